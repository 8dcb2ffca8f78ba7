#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# dump/restore: round trip, errors that change nothing, atomic switch under traffic,
# and a controller killed mid-restore.
. "$(dirname "$0")/lib.sh"
require_root
setup_netns || { not_ok "set up namespaces"; finish; }
check "attach" sl attach "$SRV_IF"

cat >"$TMP/a.conf" <<'POLICY'
# policy A
set malformed drop
allow add 192.0.2.0/24 comment "monitoring"
block add 198.51.100.0/24 ttl 1h comment "abuse"
block add 2001:db8:bad::/48
block add 198.18.0.130
rule add api-new-conns tcp dport 443 syn limit src/32 src6/64 rate 20/s burst 40 limit src/24 src6/48 rate 200/s burst 400 action drop
rule add api-bytes tcp dport 443 limit global rate 1Gbit/s burst 10MB action monitor
rule add admin tcp dport 8443 action drop
rule add dns udp dport 53 limit src/32 rate 50/s action ban 10m
rule add vip tcp dst 203.0.113.10 dport 80-81 limit src/24 rate 1200/m burst 100 action drop
POLICY
check "restore --check" sl restore --check "$TMP/a.conf"
check "restore" sl restore "$TMP/a.conf"
sl dump >"$TMP/d1"
check "restore the dump" sl restore "$TMP/d1"
sl dump >"$TMP/d2"
check "dump -> restore -> dump is identical" diff "$TMP/d1" "$TMP/d2"
expect_eq "dump keeps 5 rules" "$(grep -c '^rule add' "$TMP/d1")" 5
expect_eq "dump -j lists the block entries" "$(sl -j dump | jq -r '.block | length')" 3
digest=$(sl -j status | jq -r .policy.digest)

# Errors name file, line and column, exit 2, and change nothing.
printf 'rule add ok udp dport 1 action drop\nrule add a tcp limit src/32 rate 20 action drop\n' >"$TMP/bad.conf"
expect_exit "bad rate exits 2" 2 sl restore "$TMP/bad.conf"
expect_eq "error names file:line:column and what was expected" "$(cat "$TMP/err")" \
	"sluice: $TMP/bad.conf:2:34: rate: expected NUMBER/s, /m, /h, /d or a byte rate like 10MB/s or 80Mbit/s, got \"20\""
expect_eq "policy unchanged after a bad restore" "$(sl -j status | jq -r .policy.digest)" "$digest"
printf 'block add 10.0.0.1/8\n' >"$TMP/bad2.conf"
expect_exit "host bits exit 2" 2 sl restore "$TMP/bad2.conf"
printf 'block flush\n' >"$TMP/bad3.conf"
expect_exit "only add and set lines in a file" 2 sl restore "$TMP/bad3.conf"
expect_exit "missing file exits 2" 2 sl restore "$TMP/nonexistent.conf"
expect_exit "restore --check of a bad file exits 2" 2 sl restore --check "$TMP/bad.conf"
sl dump >"$TMP/d3"
# Remaining TTLs tick down between the two dumps; everything else must be the same.
check "nothing changed by the failed restores" \
	diff <(sed 's/ ttl [^ ]*//' "$TMP/d1") <(sed 's/ ttl [^ ]*//' "$TMP/d3")

# Atomic switch under traffic: two policies that both block 198.18.0.130 and both
# pass 198.18.0.2 on port 9000, restored back and forth while both send.
cat >"$TMP/p1.conf" <<'POLICY'
block add 198.18.0.130
block add 203.0.113.0/24
rule add r1 udp dport 9001 action drop
POLICY
cat >"$TMP/p2.conf" <<'POLICY'
block add 198.18.0.128/25
rule add r2 udp dport 9002 limit src/32 rate 10/s action drop
rule add r3 tcp dport 22 action pass
POLICY
check "restore p1" sl restore "$TMP/p1.conf"
bg "$SRV" python3 "$(dirname "$0")/udp_count.py" "$SRV_IP" 9000 "$TMP/counts"
for _ in $(seq 50); do [ -e "$TMP/counts.ready" ] && break; sleep 0.1; done
in_cli python3 -c '
import socket, sys, time
srcs = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(2)]
srcs[0].bind(("198.18.0.2", 0)); srcs[1].bind(("198.18.0.130", 0))
sent = 0
end = time.time() + 4
while time.time() < end:
    for s in srcs:
        s.sendto(b"x" * 16, ("198.18.0.1", 9000))
    sent += 1
    if sent % 50 == 0:
        time.sleep(0.001)
open(sys.argv[1], "w").write(str(sent))
' "$TMP/sent" &
sender=$!
restores=0
while kill -0 "$sender" 2>/dev/null; do
	sl restore "$TMP/p2.conf" && sl restore "$TMP/p1.conf" && restores=$((restores + 2))
done
wait "$sender"
sleep 0.5
kill "${bg_pids[-1]}"
for _ in $(seq 50); do [ -s "$TMP/counts" ] && break; sleep 0.1; done
sent=$(cat "$TMP/sent")
good=$(awk '$1 == "198.18.0.2" {print $2}' "$TMP/counts")
bad=$(awk '$1 == "198.18.0.130" {print $2}' "$TMP/counts")
diag "$restores restores while sending $sent datagrams from each source"
[ "$restores" -ge 10 ] && ok "at least 10 restores under traffic" || not_ok "at least 10 restores under traffic ($restores)"
expect_eq "no datagram from the source both policies block passed" "${bad:-0}" 0
expect_eq "every datagram from the source both policies pass arrived" "${good:-0}" "$sent"

# A controller killed mid-restore leaves the old or the new policy whole.
for i in $(seq 0 9999); do printf 'block add 10.%d.%d.0/24\n' $((i / 256)) $((i % 256)); done >"$TMP/big.conf"
cat "$TMP/p2.conf" >>"$TMP/big.conf"
check "restore p1" sl restore "$TMP/p1.conf"
old=$(sl -j status | jq -r .policy.digest)
whole=0
for delay in 0.01 0.03 0.05 0.08 0.12 0.2; do
	sl restore "$TMP/big.conf" &
	pid=$!
	sleep "$delay"
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	d=$(sl -j dump)
	rules=$(echo "$d" | jq -r '[.rules[].name] | join(",")')
	blocks=$(echo "$d" | jq -r '.block | length')
	if { [ "$rules" = "r1" ] && [ "$blocks" = 2 ]; } || { [ "$rules" = "r2,r3" ] && [ "$blocks" = 10001 ]; }; then
		whole=$((whole + 1))
	else
		diag "after kill at ${delay}s: rules '$rules', $blocks block entries"
	fi
	sl restore "$TMP/p1.conf"
done
expect_eq "every killed restore left one whole policy" "$whole" 6
check "the next restore succeeds" sl restore "$TMP/a.conf"

# An input with no policy lines (a failed download, a truncated pipe) wipes nothing.
printf 'rule add keep udp dport 53 action drop\nblock add 192.0.2.0/24\nblock add 198.51.100.0/24\n' \
	>"$TMP/three.conf"
check "a policy of one rule and two entries" sl restore "$TMP/three.conf"
printf '\n# only a comment\n' >"$TMP/empty.conf"
expect_exit "an input without policy lines is refused" 2 sl restore "$TMP/empty.conf"
expect_eq "the refusal says why" "$(sl restore - </dev/null 2>&1)" \
	"sluice: restore: -: no policy lines; restoring it would remove every rule and list entry (--allow-empty does that)"
expect_eq "and the policy is untouched" "$(sl -j dump | jq -c '[(.rules | length), (.block | length)]')" "[1,2]"
printf 'block add 192.0.2.0/24\n' >"$TMP/one.conf"
expect_eq "a restore says what it removed" "$(sl restore "$TMP/one.conf")" \
	"$TMP/one.conf: removed 1 rule and 1 list entry it does not have"
check "back to three" sl restore "$TMP/three.conf"
expect_eq "with -v it names them" "$(sl -v restore "$TMP/one.conf" 2>&1 | grep removes)" \
	"sluice: restore: removes rule keep
sluice: restore: removes block 198.51.100.0/24"
expect_eq "-j counts them" "$(sl -j restore --allow-empty "$TMP/empty.conf" | jq -c .)" \
	'{"removed_rules":0,"removed_list_entries":1}'
expect_eq "--allow-empty took the empty policy" "$(sl -j dump | jq -c '[(.rules | length), (.block | length)]')" "[0,0]"
check "detach" sl detach "$SRV_IF"
finish
