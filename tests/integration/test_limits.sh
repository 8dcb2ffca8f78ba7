#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Rules with real clients: SYN limits on TCP connections, ban and its expiry, monitor, ACL.
. "$(dirname "$0")/lib.sh"
require_root
setup_netns || { not_ok "set up namespaces"; finish; }
check "attach" sl attach "$SRV_IF"

mkdir -p "$TMP/www" && echo hello >"$TMP/www/index.html"
bg "$SRV" python3 -m http.server 8080 --bind "$SRV_IP" --directory "$TMP/www" >/dev/null 2>&1
bg "$SRV" python3 -m http.server 8443 --bind "$SRV_IP" --directory "$TMP/www" >/dev/null 2>&1
# Both servers answer before any rule is set, so a refused connection later is the rule's doing.
check "the server on 8080 answers" wait_until 10 in_cli curl -s -o /dev/null --max-time 1 "http://$SRV_IP:8080/"
check "the server on 8443 answers" wait_until 10 in_cli curl -s -o /dev/null --max-time 1 "http://$SRV_IP:8443/"

# connect_ok SOURCE PORT: a real HTTP request from SOURCE, SYN not retried within the timeout.
fetch() { in_cli curl -s -o /dev/null --interface "$1" --connect-timeout 0.5 --max-time 2 "http://$SRV_IP:$2/"; }

cat >"$TMP/policy" <<POLICY
rule add web tcp dport 8080 syn limit src/32 rate 1/h burst 5 action drop
rule add admin tcp dport 8443 action drop
rule add dns udp dport 5353 limit src/32 rate 1/h burst 3 action ban 3s
rule add mon udp dport 6000 limit global rate 1/h burst 2 action monitor
rule add v6 ip6 udp dport 7000 limit src6/64 rate 1/h burst 4 action drop
rule add ports udp dport 7100-7101 limit src/32 dport rate 1/h burst 2 action drop
POLICY
check "restore the policy" sl restore "$TMP/policy"

ok_count=0
for i in $(seq 10); do fetch "$CLI_IP" 8080 && ok_count=$((ok_count + 1)); done
expect_eq "SYN limit burst 5: 5 of 10 connections served" "$ok_count" 5
expect_eq "SYN limit counts 5 passed SYNs" "$(rule_count "$SRV_IF" web pass)" 5
[ "$(rule_count "$SRV_IF" web drop)" -ge 5 ] && ok "SYN limit dropped the rest" || not_ok "SYN limit dropped the rest"
check "another client has its own budget" fetch 198.18.0.3 8080
fetch "$CLI_IP" 8443 && not_ok "ACL drops the admin port" || ok "ACL drops the admin port"
expect_eq "ACL drops counted under reason acl" "$(drop_count "$SRV_IF" acl)" \
	"$(rule_count "$SRV_IF" admin drop)"

banned_at=$(now_ms)
udp_send "$CLI_IP" "$SRV_IP" 5353 10
expect_soon "then banned packets drop with reason ban" 6 drop_count "$SRV_IF" ban
expect_eq "ban rule: 3 pass" "$(rule_count "$SRV_IF" dns pass)" 3
expect_eq "ban rule: the 4th bans" "$(rule_count "$SRV_IF" dns ban)" 1
expect_eq "ban list names the source" "$(sl -j ban list | jq -r '.[0].prefix + " " + .[0].rule')" "$CLI_IP dns"
expect_eq "status: the ban filter holds the ban's bit" \
	"$(sl -j status | jq -c '.ban_filter | [.bits_set, .bits_total, .bans, .bits_needed]')" \
	"[1,4194304,1,1]"
fetch "$CLI_IP" 8080 && not_ok "a banned source is dropped on every port" || ok "a banned source is dropped on every port"
check "other sources are not banned" in_cli ping -c1 -W1 -I 198.18.0.3 "$SRV_IP"
# The ban lasts 3 s: wait for it to be gone from the list, then for the data path to agree.
ban_count() { sl -j ban list | jq length; }
check "ban expires" wait_until 10 output_is 0 ban_count
elapsed=$(($(now_ms) - banned_at))
[ "$elapsed" -ge 2900 ] && ok "the ban lasted its 3 s (${elapsed} ms)" ||
	not_ok "the ban lasted its 3 s (gone after ${elapsed} ms)"
check "an expired ban no longer drops" wait_until 5 in_cli ping -c1 -W1 -I "$CLI_IP" "$SRV_IP"
udp_send "$CLI_IP" "$SRV_IP" 5353 1
expect_soon "the bucket is still empty after the ban: banned again" 2 rule_count "$SRV_IF" dns ban
check "ban del lifts a ban" sl ban del "$CLI_IP"
expect_eq "ban list empty after del" "$(sl -j ban list | jq length)" 0

udp_send "$CLI_IP" "$SRV_IP" 6000 6
udp_send 198.18.0.3 "$SRV_IP" 6000 4
expect_soon "global monitor: 8 counted as monitor" 8 rule_count "$SRV_IF" mon monitor
expect_eq "global monitor: 2 pass" "$(rule_count "$SRV_IF" mon pass)" 2
expect_eq "monitor never drops" "$(rule_count "$SRV_IF" mon drop)" 0

udp_send "$CLI_IP6" "$SRV_IP6" 7000 3
udp_send fd00:5::3 "$SRV_IP6" 7000 3
expect_soon "v6 /64 key: the other 2 drop" 2 rule_count "$SRV_IF" v6 drop
expect_eq "v6 /64 key: two addresses share 4" "$(rule_count "$SRV_IF" v6 pass)" 4

udp_send 198.18.0.3 "$SRV_IP" 7100 3
udp_send 198.18.0.3 "$SRV_IP" 7101 3
expect_soon "dport key: 1 per port dropped" 2 rule_count "$SRV_IF" ports drop
expect_eq "dport key: 2 per port pass" "$(rule_count "$SRV_IF" ports pass)" 4

# Limiter state of an unchanged rule survives a restore; a changed rule starts afresh.
sl dump >"$TMP/dump1"
check "restore the same policy" sl restore "$TMP/dump1"
fetch 198.18.0.3 8080
fetch 198.18.0.3 8080
fetch 198.18.0.3 8080
fetch 198.18.0.3 8080
fetch 198.18.0.3 8080 && not_ok "unchanged rule kept its bucket across restore" ||
	ok "unchanged rule kept its bucket across restore"
expect_eq "counters of an unchanged rule survive restore" "$(rule_count "$SRV_IF" web pass)" 10
sed -i 's/burst 5 action drop/burst 6 action drop/' "$TMP/dump1"
check "restore with the rule changed" sl restore "$TMP/dump1"
check "a changed limit starts with a full burst" fetch 198.18.0.3 8080
check "detach" sl detach "$SRV_IF"
finish
