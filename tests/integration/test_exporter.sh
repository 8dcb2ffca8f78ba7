#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# The Prometheus exporter: promtool-clean scrapes that agree with `sluice -j stats`, gzip,
# HTTP errors, sluice_up across attach and detach, collection of expired entries, dropped
# capabilities, a real Prometheus scraping it, the scrape time with 64 rules on 4 interfaces,
# connection limits under a flood of idle connections, and HTTPS with basic auth (--web-config).
. "$(dirname "$0")/lib.sh"
require_root
setup_netns || { not_ok "set up namespaces"; finish; }

# Both servers listen on the server namespace's own loopback, so fixed ports are safe.
PORT=9741
PROM_PORT=9090
URL="http://127.0.0.1:$PORT/metrics"
exporter_pid=

scrape() { in_srv curl -sf --max-time 5 "$URL"; }

# The value of one series in a scrape: mval FILE 'name{labels}'
mval() { awk -v s="$2" '$1 == s { print $2 }' "$1"; }

# Starts the exporter in the server namespace and waits until it answers.
start_exporter() {
	bg "$SRV" "$SLUICE" --pin-path "$PIN" exporter --collect 1s "$@"
	exporter_pid=$!
	for _ in $(seq 50); do
		in_srv curl -sf -o /dev/null --max-time 1 "$URL" && return 0
		sleep 0.1
	done
	return 1
}

# Scrapes until a series has a value, for at most 8 s (the map fill is counted every
# second): wait_metric SERIES VALUE; the last scrape is left in $TMP/mw.
wait_metric() {
	for _ in $(seq 40); do
		scrape >"$TMP/mw"
		[ "$(mval "$TMP/mw" "$1")" = "$2" ] && return 0
		sleep 0.2
	done
	return 1
}

stop_exporter() {
	kill -TERM "$exporter_pid" 2>/dev/null
	wait "$exporter_pid"
}

# Nothing attached yet: the exporter runs anyway and says so.
check "exporter starts with nothing attached" start_exporter
scrape >"$TMP/m0"
expect_eq "without an attach: sluice_up 0" "$(mval "$TMP/m0" sluice_up)" 0
expect_eq "without an attach: build info only" \
	"$(grep -v '^#' "$TMP/m0" | cut -d' ' -f1 | cut -d'{' -f1 | sort | tr '\n' ' ')" \
	"sluice_build_info sluice_scrape_duration_seconds sluice_up "
check "promtool passes the sluice_up 0 document" promtool check metrics <"$TMP/m0"

check "attach" sl attach "$SRV_IF"
cat >"$TMP/policy" <<POLICY
block add 198.18.0.3 comment "bad \"client\""
block add 198.18.0.130 ttl 2s
rule add dns udp dport 5353 limit src/32 rate 1/h burst 3 action drop
POLICY
check "restore a policy with a block and a limit" sl restore "$TMP/policy"
udp_send 198.18.0.3 "$SRV_IP" 9999 5
udp_send "$CLI_IP" "$SRV_IP" 5353 10

scrape >"$TMP/m1"
expect_eq "the running exporter recovers: sluice_up 1" "$(mval "$TMP/m1" sluice_up)" 1
promtool check metrics <"$TMP/m1" >"$TMP/promtool.out" 2>&1
expect_eq "promtool check metrics passes, no lint output" "$?:$(cat "$TMP/promtool.out")" "0:"
expect_eq "blocklist drops equal sluice -j stats" \
	"$(mval "$TMP/m1" "sluice_drops_total{interface=\"$SRV_IF\",reason=\"blocklist\"}")" \
	"$(drop_count "$SRV_IF" blocklist)"
expect_eq "blocklist drops are the 5 sent" "$(drop_count "$SRV_IF" blocklist)" 5
expect_eq "ratelimit drops equal sluice -j stats" \
	"$(mval "$TMP/m1" "sluice_drops_total{interface=\"$SRV_IF\",reason=\"ratelimit\"}")" \
	"$(drop_count "$SRV_IF" ratelimit)"
expect_eq "rule packets and bytes by verdict equal sluice -j stats" \
	"$(awk '/^sluice_(packets|bytes)_total\{.*rule="dns"/' "$TMP/m1" | sort)" \
	"$(sl -j stats | jq -r --arg i "$SRV_IF" '.interfaces[] | select(.name == $i) | .rules[] |
		.name as $r | .verdicts | to_entries[] | .key as $v | .value |
		"sluice_packets_total{interface=\"\($i)\",rule=\"\($r)\",verdict=\"\($v)\"} \(.packets)",
		"sluice_bytes_total{interface=\"\($i)\",rule=\"\($r)\",verdict=\"\($v)\"} \(.bytes)"' | sort)"
expect_eq "list drops count under rule \"none\"" \
	"$(mval "$TMP/m1" "sluice_packets_total{interface=\"$SRV_IF\",rule=\"none\",verdict=\"drop\"}")" 5
expect_eq "interface info" "$(grep '^sluice_interface_info' "$TMP/m1")" \
	"sluice_interface_info{interface=\"$SRV_IF\",mode=\"$(sl -j status | jq -r '.interfaces[0].mode')\"} 1"
expect_eq "policy digest as in status" "$(grep '^sluice_policy_info' "$TMP/m1")" \
	"sluice_policy_info{digest=\"$(sl -j status | jq -r .policy.digest)\"} 1"
expect_eq "policy reloads are the generation" "$(mval "$TMP/m1" sluice_policy_reloads_total)" \
	"$(sl -j status | jq -r .policy.generation)"
expect_eq "policy rules" "$(mval "$TMP/m1" sluice_policy_rules)" 1
wait_metric sluice_limiter_keys 1
expect_eq "limiter keys: one source" "$(mval "$TMP/mw" sluice_limiter_keys)" 1
expect_eq "limiter capacity as in status: slots and LRU map" \
	"$(mval "$TMP/m1" sluice_limiter_keys_capacity)" \
	"$(sl -j status | jq -r '[.maps[] | select(.name == "sluice_buckets" or
		.name == "sluice_slots") | .capacity] | add')"
expect_eq "event counters equal sluice -j stats" \
	"$(for k in emitted suppressed lost; do mval "$TMP/m1" "sluice_events_${k}_total"; done | tr '\n' ' ')" \
	"$(sl -j stats | jq -r '[.events.emitted, .events.suppressed, .events.lost] | map(tostring + " ") | add')"
expect_eq "no addresses in any label" "$(grep -c '198\.18\.\|fd00:' "$TMP/m1")" 0

# The ttl entry expires after 2 s and the exporter's collection (every second here, given as
# the duration 1s) removes it.
wait_metric 'sluice_list_entries{list="block"}' 1
expect_eq "the exporter collects the expired block entry" \
	"$(mval "$TMP/mw" 'sluice_list_entries{list="block"}')" 1
expect_eq "and the map holds one entry" \
	"$(sl -j status | jq -r '[.maps[] | select(.live == true and (.name | startswith("sluice_block")))][0].entries')" 1

# gzip, HEAD and the HTTP errors.
in_srv curl -s --compressed -D "$TMP/headers" -o "$TMP/mgz" "$URL"
check "gzip when asked (Content-Encoding: gzip)" grep -qi '^Content-Encoding: gzip' "$TMP/headers"
expect_eq "gzipped body holds the same counters" \
	"$(mval "$TMP/mgz" "sluice_drops_total{interface=\"$SRV_IF\",reason=\"blocklist\"}")" 5
in_srv curl -s -D "$TMP/headers" -o /dev/null "$URL"
expect_eq "no gzip unless asked" "$(grep -ci '^Content-Encoding' "$TMP/headers")" 0
expect_eq "Content-Type" "$(grep -i '^Content-Type' "$TMP/headers" | tr -d '\r')" \
	"Content-Type: text/plain; version=0.0.4; charset=utf-8"
expect_eq "HEAD /metrics is 200" \
	"$(in_srv curl -s -I -o /dev/null -w '%{http_code}' "$URL")" 200
expect_eq "POST /metrics is 405" \
	"$(in_srv curl -s -o /dev/null -w '%{http_code}' -X POST -d x=1 "$URL")" 405
expect_eq "GET /nope is 404" \
	"$(in_srv curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/nope")" 404
# / answers a page that links /metrics.
in_srv curl -s -D "$TMP/headers" -o "$TMP/index" "http://127.0.0.1:$PORT/"
expect_eq "GET / is 200, HTML" \
	"$(head -n 1 "$TMP/headers" | cut -d' ' -f2) $(grep -i '^Content-Type' "$TMP/headers" | tr -d '\r')" \
	"200 Content-Type: text/html; charset=utf-8"
expect_eq "the page links /metrics" "$(grep -o '<a href="/metrics">' "$TMP/index")" '<a href="/metrics">'
expect_eq "POST / is 405" \
	"$(in_srv curl -s -o /dev/null -w '%{http_code}' -X POST -d x=1 "http://127.0.0.1:$PORT/")" 405

# Only CAP_BPF (bit 39) is left, in every thread.
expect_eq "capabilities: only CAP_BPF effective, permitted and bounding" \
	"$(cat /proc/"$exporter_pid"/task/*/status | grep -E '^Cap(Eff|Prm|Bnd|Inh|Amb)' | sort -u | tr -s '\t\n' '  ')" \
	"CapAmb: 0000000000000000 CapBnd: 0000008000000000 CapEff: 0000008000000000 CapInh: 0000000000000000 CapPrm: 0000008000000000 "

# Counters live in pinned maps: an exporter restart or a re-applied policy loses nothing.
before=$(mval "$TMP/m1" "sluice_drops_total{interface=\"$SRV_IF\",reason=\"ratelimit\"}")
stop_exporter
expect_eq "SIGTERM stops the exporter cleanly" "$?" 0
check "exporter restarts" start_exporter
sl dump >"$TMP/dump"
check "re-apply the same policy" sl restore "$TMP/dump"
scrape >"$TMP/m3"
expect_eq "counters survive exporter restart and restore" \
	"$(mval "$TMP/m3" "sluice_drops_total{interface=\"$SRV_IF\",reason=\"ratelimit\"}")" "$before"
[ "$(mval "$TMP/m3" sluice_policy_reloads_total)" -gt "$(mval "$TMP/m1" sluice_policy_reloads_total)" ] &&
	ok "policy reloads count the restore" || not_ok "policy reloads count the restore"

# A real Prometheus scrapes the exporter during traffic; its view must match sluice -j stats.
cat >"$TMP/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: sluice
    static_configs:
      - targets: ["127.0.0.1:$PORT"]
YAML
bg "$SRV" prometheus --config.file="$TMP/prometheus.yml" --storage.tsdb.path="$TMP/prom" \
	--web.listen-address="127.0.0.1:$PROM_PORT" --log.level=warn >"$TMP/prom.log" 2>&1
promql() {
	in_srv curl -s --max-time 2 "http://127.0.0.1:$PROM_PORT/api/v1/query" \
		--data-urlencode "query=$1" | jq -r '.data.result[0].value[1] // empty' 2>/dev/null
}
for _ in $(seq 100); do
	[ "$(promql 'up{job="sluice"}')" = 1 ] && break
	sleep 0.2
done
expect_eq "Prometheus scrapes the exporter (up 1)" "$(promql 'up{job="sluice"}')" 1
for _ in $(seq 5); do
	udp_send 198.18.0.3 "$SRV_IP" 9999 20
	sleep 0.3
done
want=$(drop_count "$SRV_IF" blocklist)
query="sluice_drops_total{interface=\"$SRV_IF\",reason=\"blocklist\"}"
for _ in $(seq 50); do
	[ "$(promql "$query")" = "$want" ] && break
	sleep 0.2
done
expect_eq "Prometheus's blocklist drops equal sluice -j stats ($want)" "$(promql "$query")" "$want"
expect_eq "Prometheus saw sluice_up 1" "$(promql 'sluice_up')" 1
grep -i 'level=error' "$TMP/prom.log" | head -n 5 | sed 's/^/# /'

# Scrape time with 64 rules on 4 interfaces: three more veth pairs in the server namespace.
for i in 1 2 3; do
	in_srv ip link add "sx$i$$" type veth peer name "sy$i$$"
	in_srv ip link set "sx$i$$" up
	in_srv ip link set "sy$i$$" up
	sl attach "sx$i$$" >/dev/null || not_ok "attach sx$i$$"
done
for i in $(seq 64); do
	echo "rule add r$i udp dport $((10000 + i)) limit src/32 rate 100/s action drop"
done >"$TMP/policy64"
check "restore 64 rules" sl restore "$TMP/policy64"
expect_eq "4 interfaces in the scrape" "$(scrape | grep -c '^sluice_interface_info')" 4
# 20 scrapes, as Prometheus asks (gzip) and plain; medians in ms of the whole HTTP request
# (curl) and of the exporter's own work (reading the maps and writing the text).
ms() { sort -n | sed -n 10p | awk '{ printf "%.2f", $1 * 1000 }'; }
for i in $(seq 20); do
	in_srv curl -s --compressed -o "$TMP/s$i" -w '%{time_total}\n' "$URL"
done >"$TMP/gz_times"
for i in $(seq 20); do
	in_srv curl -s -o /dev/null -w '%{time_total}\n' "$URL"
done >"$TMP/plain_times"
own=$(for i in $(seq 20); do mval "$TMP/s$i" sluice_scrape_duration_seconds; done | ms)
gz_ms=$(ms <"$TMP/gz_times")
scrape >"$TMP/m64"
diag "scrape, 64 rules x 4 interfaces, median of 20: $gz_ms ms gzip," \
	"$(ms <"$TMP/plain_times") ms plain, $own ms in the exporter" \
	"($(wc -c <"$TMP/m64") bytes, $(grep -vc '^#' "$TMP/m64") samples)"
# A figure, not an assertion: timings on a shared machine are noise in a test (make bench).
check "promtool passes the 64-rule document" promtool check metrics <"$TMP/m64"

# Under abuse: one address opens 100 connections and sends nothing. It keeps 8 (the
# per-address limit; the rest are closed as they come, so none wait in the backlog), a
# scrape from another address is answered at once, and the 8 are closed when idle for 3 s.
ABUSE_PORT=9742
bg "$SRV" "$SLUICE" --pin-path "$PIN" exporter --collect 0 --listen "$SRV_IP:$ABUSE_PORT"
for _ in $(seq 50); do
	in_cli curl -sf -o /dev/null --max-time 1 "http://$SRV_IP:$ABUSE_PORT/metrics" && break
	sleep 0.1
done
# hold.py SRC DST PORT N: connects N times from SRC, then prints how many connections the
# server holds open 0.2 s after the last connect ("open N"), and again 4 s after it.
cat >"$TMP/hold.py" <<'PY'
import socket, sys, time
src, dst, port, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
socks = []
for _ in range(n):
    s = socket.socket()
    s.bind((src, 0))
    s.settimeout(5)
    s.connect((dst, port))
    s.setblocking(False)
    socks.append(s)
t = time.monotonic()
def still_open():
    held = 0
    for s in socks:
        try:
            s.recv(1, socket.MSG_PEEK)  # b"": the server closed it; no reply is ever sent
        except BlockingIOError:
            held += 1  # nothing to read and no FIN: the server holds it
        except OSError:
            pass
    return held
time.sleep(0.2)
print("open", still_open(), flush=True)
time.sleep(max(0, t + 4 - time.monotonic()))
print("open", still_open(), flush=True)
PY
bg "$CLI" python3 "$TMP/hold.py" "$CLI_IP" "$SRV_IP" "$ABUSE_PORT" 100 >"$TMP/held"
for _ in $(seq 100); do
	grep -q open "$TMP/held" && break
	sleep 0.1
done
expect_eq "one address holding 100 idle connections keeps 8 open" \
	"$(head -n 1 "$TMP/held")" "open 8"
: >"$TMP/ma"
expect_eq "while it holds 8, a scrape from another address is answered within 2 s" \
	"$(in_cli curl -s --interface 198.18.0.130 --max-time 2 -o "$TMP/ma" -w '%{http_code}' \
		"http://$SRV_IP:$ABUSE_PORT/metrics"):$(mval "$TMP/ma" sluice_up)" "200:1"
expect_eq "a 9th connection from that address is closed unanswered" \
	"$(in_cli curl -s --interface "$CLI_IP" --max-time 2 -o /dev/null -w '%{http_code}' \
		"http://$SRV_IP:$ABUSE_PORT/metrics")" "000"
for _ in $(seq 100); do
	[ "$(grep -c open "$TMP/held")" = 2 ] && break
	sleep 0.1
done
expect_eq "the 8 idle connections are closed after the 3 s timeout" \
	"$(sed -n 2p "$TMP/held")" "open 0"
expect_eq "then the abusing address is served again" \
	"$(in_cli curl -s --interface "$CLI_IP" --max-time 2 -o /dev/null -w '%{http_code}' \
		"http://$SRV_IP:$ABUSE_PORT/metrics")" "200"

# [::]:PORT is IPv6 alone (IPV6_V6ONLY), so 0.0.0.0 on the same port can be bound too.
bg "$SRV" "$SLUICE" --pin-path "$PIN" exporter --collect 0 --listen "[::]:9744"
bg "$SRV" "$SLUICE" --pin-path "$PIN" exporter --collect 0 --listen "0.0.0.0:9744"
for _ in $(seq 50); do
	in_srv curl -sf -o /dev/null --max-time 1 "http://[::1]:9744/metrics" &&
		in_srv curl -sf -o /dev/null --max-time 1 "http://127.0.0.1:9744/metrics" && break
	sleep 0.1
done
expect_eq "IPv6 [::]:9744 and IPv4 0.0.0.0:9744 both answer" \
	"$(in_srv curl -s -o /dev/null -w '%{http_code}' "http://[::1]:9744/metrics"):$(in_srv \
		curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:9744/metrics")" "200:200"

# node_exporter's forms of --listen: no host is every address of both families, and a host
# name is resolved (localhost: 127.0.0.1 or ::1, both on the namespace's loopback).
answers() { in_srv curl -sf -o /dev/null --max-time 1 "$1"; }
bg "$SRV" "$SLUICE" --pin-path "$PIN" exporter --collect 0 --listen ":9745"
check "--listen :9745 answers on 127.0.0.1" wait_until 10 answers "http://127.0.0.1:9745/metrics"
check "--listen :9745 answers on [::1] too" answers "http://[::1]:9745/metrics"
check "--listen :9745 answers on the interface's address" answers "http://$SRV_IP:9745/metrics"
bg "$SRV" "$SLUICE" --pin-path "$PIN" exporter --collect 10s --listen "localhost:9746"
check "--listen localhost:9746 answers on localhost" \
	wait_until 10 answers "http://localhost:9746/metrics"
expect_exit "--listen with a host name that does not resolve: exit 1" 1 \
	sl exporter --listen no-such-host.invalid:9747
expect_eq "... one error line naming it" "$(cat "$TMP/err")" \
	'sluice: exporter: --listen: cannot resolve the host of "no-such-host.invalid:9747"'
expect_exit "--listen 9747 (no colon): exit 2" 2 sl exporter --listen 9747
expect_eq "... the error names every form" "$(cat "$TMP/err")" \
	'sluice: exporter: --listen: expected IPV4:PORT, [IPV6]:PORT, HOST:PORT or :PORT, got "9747"'

# --collect takes a duration or bare seconds; the error lists every unit.
expect_exit "--collect 5x: exit 2" 2 sl exporter --collect 5x
expect_eq "... the error lists every unit" "$(cat "$TMP/err")" \
	'sluice: exporter: --collect: expected 0, seconds or a duration (units d, h, m, s, ms, us or ns) from 1s to 1d, got "5x"'
expect_exit "--collect 500ms (under 1s): exit 2" 2 sl exporter --collect 500ms
expect_eq "the exporter's help shows --collect" \
	"$(sl exporter --help | grep -c -- '--collect INTERVAL')" 2

# --web-config: HTTPS and basic auth, in the exporter toolkit's format. The certificate is
# for 127.0.0.1; cert_file and key_file are relative to the file's directory.
TLS_PORT=9743
TLS_URL="https://127.0.0.1:$TLS_PORT/metrics"
mkdir "$TMP/web"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
	-subj /CN=sluice-test -addext subjectAltName=IP:127.0.0.1 \
	-keyout "$TMP/web/key.pem" -out "$TMP/web/cert.pem" >/dev/null 2>&1
cat >"$TMP/web/web.yml" <<YAML
tls_server_config:
  cert_file: cert.pem
  key_file: key.pem
basic_auth_users:
  prometheus: '$(mkpasswd -m bcrypt -R 8 'sc rape&pass')'
YAML
bg "$SRV" "$SLUICE" --pin-path "$PIN" exporter --collect 0 --listen "127.0.0.1:$TLS_PORT" \
	--web-config "$TMP/web/web.yml"
tls_curl() { in_srv curl -s --max-time 5 --cacert "$TMP/web/cert.pem" "$@"; }
for _ in $(seq 50); do
	[ "$(tls_curl -o /dev/null -w '%{http_code}' "$TLS_URL")" = 401 ] && break
	sleep 0.1
done
expect_eq "https with the right user and password: 200 and sluice_up 1" \
	"$(tls_curl -u 'prometheus:sc rape&pass' -o "$TMP/mt" -w '%{http_code}' "$TLS_URL"):$(mval "$TMP/mt" sluice_up)" \
	"200:1"
expect_eq "and again (the verified password is remembered)" \
	"$(tls_curl -u 'prometheus:sc rape&pass' -o /dev/null -w '%{http_code}' "$TLS_URL")" 200
expect_eq "https without credentials: 401 with WWW-Authenticate: Basic" \
	"$(tls_curl -D "$TMP/th" -o /dev/null -w '%{http_code}' "$TLS_URL"):$(grep -i '^WWW-Authenticate' "$TMP/th" | tr -d '\r')" \
	'401:WWW-Authenticate: Basic realm="sluice"'
expect_eq "https with a wrong password: 401" \
	"$(tls_curl -u 'prometheus:sc rape&pas' -o /dev/null -w '%{http_code}' "$TLS_URL")" 401
expect_eq "https with an unknown user: 401" \
	"$(tls_curl -u 'admin:sc rape&pass' -o /dev/null -w '%{http_code}' "$TLS_URL")" 401
expect_eq "https 404 needs the password too" \
	"$(tls_curl -o /dev/null -w '%{http_code}' "https://127.0.0.1:$TLS_PORT/nope")" 401
in_srv curl -s --max-time 5 -u 'prometheus:sc rape&pass' -o /dev/null "http://127.0.0.1:$TLS_PORT/metrics"
expect_eq "plain http to the TLS port fails (curl: empty reply or reset)" \
	"$?:$(in_srv curl -s --max-time 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$TLS_PORT/metrics")" \
	"$(in_srv curl -s --max-time 5 -o /dev/null "http://127.0.0.1:$TLS_PORT/metrics"; echo "$?"):000"
expect_eq "a certificate the client does not trust is refused (curl 60)" \
	"$(in_srv curl -s --max-time 5 -o /dev/null "$TLS_URL"; echo "$?")" 60

# Bad web configs stop the exporter at start with one line and exit 2.
printf 'tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\nhttp_server_config:\n  http2: true\n' \
	>"$TMP/web/unknown.yml"
expect_exit "--web-config with an unknown key: exit 2" 2 \
	sl exporter --listen 127.0.0.1:9746 --web-config "$TMP/web/unknown.yml"
expect_eq "and one line naming the key" "$(cat "$TMP/err")" \
	"sluice: exporter: --web-config $TMP/web/unknown.yml:4: unknown key \"http_server_config\" (sluice reads tls_server_config and basic_auth_users)"
printf 'tls_server_config:\n  cert_file: missing.pem\n  key_file: key.pem\n' >"$TMP/web/nocert.yml"
expect_exit "--web-config with an unreadable cert_file: exit 2" 2 \
	sl exporter --listen 127.0.0.1:9746 --web-config "$TMP/web/nocert.yml"
expect_eq "and one line naming the file" "$(cat "$TMP/err")" \
	"sluice: exporter: --web-config $TMP/web/nocert.yml:2: cert_file $TMP/web/missing.pem: No such file or directory"
printf 'basic_auth_users:\n  prometheus: %s\n' "$(mkpasswd -m sha-512 x)" >"$TMP/web/sha.yml"
expect_exit "--web-config with a SHA-512 crypt hash: exit 2" 2 \
	sl exporter --listen 127.0.0.1:9746 --web-config "$TMP/web/sha.yml"
expect_eq "and one line naming the user" "$(cat "$TMP/err")" \
	"sluice: exporter: --web-config $TMP/web/sha.yml:2: basic_auth_users: user \"prometheus\": not a bcrypt hash (\$2a\$, \$2b\$ or \$2y\$)"

# Detaching everything removes the pins: the exporter answers sluice_up 0 again.
for i in 1 2 3; do sl detach "sx$i$$" >/dev/null; done
check "detach" sl detach "$SRV_IF"
scrape >"$TMP/m4"
expect_eq "after the last detach: sluice_up 0" "$(mval "$TMP/m4" sluice_up)" 0
finish
