#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Concurrency: two controllers restoring different policies while a third adds and deletes
# a block entry serialise, every command succeeds and one whole policy is left; dump -j,
# stats -j and status -j, run all the while, always show one whole policy. A writer that
# finds the lock held says who holds it, and --wait bounds its wait; a nested pin path is
# refused.
# CONCURRENCY_SECONDS sets how long they all run (default 8).
. "$(dirname "$0")/lib.sh"
require_root
setup_netns || { not_ok "set up namespaces"; finish; }
seconds=${CONCURRENCY_SECONDS:-8}
shared=192.0.2.200 # in both policies, and added and deleted by the third writer

check "attach" sl attach "$SRV_IF" --limiter-keys 4096 --bans 1024 --list-entries 65536
{
	echo "rule add p1a udp dport 5001 limit src/32 rate 100/s action drop"
	echo "rule add p1b tcp dport 22 syn action drop"
	echo "allow add 192.0.2.1"
	echo "block add $shared"
	for i in $(seq 0 2999); do echo "block add 10.1.$((i / 256)).$((i % 256))"; done
} >"$TMP/p1.conf"
{
	echo "set malformed drop"
	echo "rule add p2a udp dport 5002 action drop"
	echo "block add $shared"
	for i in $(seq 0 4999); do echo "block add 10.2.$((i / 256)).$((i % 256))"; done
} >"$TMP/p2.conf"

# Which policy a dump -j shows: p1, p2 (each with or without the shared entry), or what
# it shows instead. Every block entry must come from the one policy its rules belong to.
cat >"$TMP/classify.jq" <<JQ
def names: [.rules[].name] | join(",");
def whole(\$rules; \$allow; \$net; \$n):
	names == \$rules and (.allow | length) == \$allow
	and ([.block[].prefix | select(startswith(\$net))] | unique | length) == \$n
	and ([.block[].prefix | select(startswith(\$net) or . == "$shared")] | length)
		== (.block | length)
	and (.block | length) == ([.block[].prefix] | unique | length);
if whole("p1a,p1b"; 1; "10.1."; 3000) then "p1"
elif whole("p2a"; 0; "10.2."; 5000) then "p2"
else "torn: rules \(names), \(.allow | length) allow, \(.block | length) block entries, "
	+ "\([.block[].prefix | select(startswith("10.1."))] | length) of p1, "
	+ "\([.block[].prefix | select(startswith("10.2."))] | length) of p2"
end
JQ
classify() { jq -r -f "$TMP/classify.jq"; }

check "restore p1" sl restore "$TMP/p1.conf"
expect_eq "dump shows p1" "$(sl -j dump | classify)" p1
digest1=$(sl -j status | jq -r .policy.digest)
check "restore p2" sl restore "$TMP/p2.conf"
expect_eq "dump shows p2" "$(sl -j dump | classify)" p2
digest2=$(sl -j status | jq -r .policy.digest)

# loop NAME COMMAND...: runs COMMAND until the time is up; writes "RUNS FAILURES" to
# $TMP/NAME and what failures said to $TMP/NAME.err.
loop() {
	local name=$1 runs=0 fails=0 end=$(($(date +%s) + seconds))
	shift
	: >"$TMP/$name.err"
	while [ "$(date +%s)" -lt "$end" ]; do
		"$@" >/dev/null 2>>"$TMP/$name.err" || fails=$((fails + 1))
		runs=$((runs + 1))
	done
	echo "$runs $fails" >"$TMP/$name"
}

add_del() { sl block add "$shared" && sl block del "$shared"; }

# Readers: fail, saying what they saw, unless it is one whole policy.
read_dump() {
	local d
	d=$(sl -j dump | classify)
	[ "$d" = p1 ] || [ "$d" = p2 ] || { echo "dump: $d" >&2; return 1; }
}
read_stats() {
	local r
	r=$(sl -j stats | jq -r --arg i "$SRV_IF" \
		'.interfaces[] | select(.name == $i) | [.rules[].name] | join(",")')
	[ "$r" = p1a,p1b ] || [ "$r" = p2a ] || { echo "stats: rules '$r'" >&2; return 1; }
}
read_status() {
	local d
	d=$(sl -j status | jq -r .policy.digest)
	[ "$d" = "$digest1" ] || [ "$d" = "$digest2" ] || { echo "status: digest '$d'" >&2; return 1; }
}

# expect_loop NAME DESCRIPTION: the loop ran at least 3 times and nothing failed.
expect_loop() {
	local runs fails
	read -r runs fails <"$TMP/$1"
	if [ "$fails" -eq 0 ] && [ "$runs" -ge 3 ]; then
		ok "$2 ($runs runs)"
	else
		not_ok "$2 ($fails of $runs failed)"
		sort "$TMP/$1.err" | uniq -c | sort -rn | head -n 5 | sed 's/^/#   /'
	fi
}

pids=()
for l in "restore1 sl restore $TMP/p1.conf" "restore2 sl restore $TMP/p2.conf" "adddel add_del" \
	"dump1 read_dump" "dump2 read_dump" "stats read_stats" "status read_status"; do
	# shellcheck disable=SC2086
	loop $l &
	pids+=($!)
done
wait "${pids[@]}"
diag "writers and readers ran side by side for ${seconds}s"
expect_loop restore1 "every restore of p1 succeeded"
expect_loop restore2 "every restore of p2 succeeded"
expect_loop adddel "every block add and del succeeded"
expect_loop dump1 "every dump -j during the restores showed one whole policy"
expect_loop dump2 "so did those of a second reader"
expect_loop stats "every stats -j during the restores was valid and named one policy's rules"
expect_loop status "every status -j during the restores named one policy's digest"

final=$(sl -j dump | classify)
case "$final" in
p1 | p2) ok "afterwards the dump is one whole policy ($final)" ;;
*) not_ok "afterwards the dump is one whole policy"; diag "$final" ;;
esac
want=$([ "$final" = p1 ] && echo "$digest1" || echo "$digest2")
expect_eq "status names the same policy" "$(sl -j status | jq -r .policy.digest)" "$want"

# The lock says who holds it, and --wait bounds the wait. A stand-in controller holds it.
mkfifo "$TMP/hold"
python3 -c 'import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
fcntl.flock(fd, fcntl.LOCK_EX)
open(sys.argv[2], "w").close()
sys.stdin.read()' "$PIN" "$TMP/locked" <"$TMP/hold" &
holder=$!
bg_pids+=("$holder")
exec 8>"$TMP/hold" # the holder lives until this closes
check "a stand-in holds the lock" wait_until 5 test -e "$TMP/locked"
expect_exit "--wait 0.3 with the lock held: exit 1" 1 sl block add 192.0.2.77 --wait 0.3
expect_eq "... said while waiting, and when it gave up" "$(cat "$TMP/err")" \
	"sluice: waiting for another sluice (pid $holder) to release $PIN...
sluice: block add: $PIN still locked by another sluice (pid $holder) after --wait 0.3 s; nothing was changed"
expect_eq "... and nothing changed" "$(sl -j block list | jq '[.[] | select(.prefix | startswith("192.0.2.77"))] | length')" 0
expect_exit "a reader does not wait" 0 sl --wait 0 status
# 8>&-: the waiter must not hold the fifo open, or the stand-in never sees its end.
sl block add 192.0.2.77 >"$TMP/waiter.out" 2>"$TMP/waiter.err" 8>&- &
waiter=$!
bg_pids+=("$waiter")
check "without --wait, a writer says it waits" wait_until 5 grep -q "waiting for another sluice (pid $holder)" "$TMP/waiter.err"
kill -0 "$waiter" 2>/dev/null && ok "... and waits" || not_ok "... and waits"
exec 8>&- # the stand-in lets go
kill "$holder" 2>/dev/null # and, should anything still hold the fifo, goes
wait "$waiter"
expect_eq "... then goes ahead" "$?" 0
expect_eq "... and the entry is there" "$(sl -j block list | jq '[.[] | select(.prefix | startswith("192.0.2.77"))] | length')" 1
expect_exit "--wait takes seconds" 2 sl --wait soon status
expect_eq "... and says so" "$(cat "$TMP/err")" 'sluice: --wait: expected SECONDS, a number from 0, got "soon"'

# A pin path inside another instance's pin directory is refused.
expect_exit "a nested pin path is refused" 2 in_srv "$SLUICE" --pin-path "$PIN/inner" attach "$SRV_IF"
expect_eq "... naming the instance it is inside" "$(cat "$TMP/err")" \
	"sluice: pin path $PIN/inner: inside $PIN, the pin directory of another instance"
expect_eq "... and nothing created there" "$([ -e "$PIN/inner" ] && echo there)" ""

check "detach" sl detach "$SRV_IF"
finish
