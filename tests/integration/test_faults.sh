#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Faults: the controller SIGKILLed at random points during restore, block import and attach
# leaves the whole old or the whole new state, status tells it truthfully, and the next
# command works. Full maps: the limiter LRU under 10x its keys, a full blocklist.
# FAULT_SEED=N repeats a run's kill delays; FAULT_KILLS=N kills of each kind (default 100).
. "$(dirname "$0")/lib.sh"
require_root
setup_netns || { not_ok "set up namespaces"; finish; }

seed=${FAULT_SEED:-$(((RANDOM ^ $$) % 32768))}
RANDOM=$seed
kills=${FAULT_KILLS:-100}
diag "seed $seed (FAULT_SEED=$seed repeats the delays), $kills kills of each kind"
# Small limiter and ban maps keep attach and status quick; lists hold the 50k import twice over.
sizes=(--limiter-keys 4096 --bans 1024 --list-entries 65536)

# adapt MS KILLED_AT HIT: a better guess at how long an operation lasts, MS so far, after a
# kill at KILLED_AT ms that hit it (it lasts longer) or missed (it was over by then).
adapt() {
	if [ "$3" = 1 ] && [ "$2" -gt "$1" ]; then
		echo "$2"
	elif [ "$3" = 0 ] && [ "$2" -lt "$1" ]; then
		echo $((($1 + $2) / 2))
	else
		echo "$1"
	fi
}

# A kill delay for an operation that lasts MS ms: every other one anywhere in it or up to 10%
# past its end, the rest in its last 30%, where the switching, pinning and linking happen.
kill_ms() {
	if [ $((RANDOM % 2)) = 0 ]; then
		rand_ms $(($1 * 11 / 10))
	else
		echo $(($1 * 7 / 10 + $(rand_ms $(($1 * 4 / 10)))))
	fi
}

# The live policy as dump -j shows it, "RULES|ALLOW|BLOCK" (rule names, list sizes), then
# what status -j says of it, "|DIGEST|ALLOW|BLOCK" (the live list maps' entries).
live_state() {
	local dump status
	dump=$(sl -j dump | jq -r '[([.rules[].name] | join(",")), (.allow | length),
		(.block | length)] | join("|")')
	status=$(sl -j status | jq -r '[.policy.digest,
		([.maps[] | select(.live == true) | .entries] | map(tostring) | join("|"))] | join("|")')
	echo "$dump|$status"
}

# is_state STATE RULES ALLOW BLOCK: STATE shows those, and status agrees with dump.
is_state() {
	local IFS='|'
	# shellcheck disable=SC2086
	set -- $1 "$2" "$3" "$4"
	[ "$1|$2|$3" = "$7|$8|$9" ] && [ "$5|$6" = "$2|$3" ] && [ -n "$4" ]
}

# survived KIND WHOLE HIT NEXT: the kills of KIND left WHOLE whole states, HIT of them
# landed while KIND ran, and the next command succeeded NEXT times.
survived() {
	diag "$1: $3 of $kills kills hit a running $1; $2 left a whole state"
	expect_eq "$1: every kill left the whole old or new state, as status says" "$2" "$kills"
	expect_eq "$1: the next command succeeded after every kill" "$4" "$kills"
	sort "$TMP/next.$1" 2>/dev/null | uniq -c | sort -rn | head -n 3 |
		sed 's/^/#   next command: /'
	# Else the delays missed: the test would pass without testing anything.
	[ "$3" -ge $((kills * 2 / 5)) ] && ok "$1: at least 40% of the kills hit a running $1" ||
		not_ok "$1: at least 40% of the kills hit a running $1 ($3 of $kills)"
	survivors="$survivors $1 $2/$kills,"
}
survivors=""

# The next command after a kill: a write, which takes the lock the killed one held.
next_write() {
	sl block add 192.0.2.77 2>>"$TMP/next.$1" && sl block del 192.0.2.77 2>>"$TMP/next.$1"
}

# ---- attach: from nothing, killed anywhere in loading, pinning and linking ----
# On an interface and pin path of its own, beside the restore and import kills: it prints
# diagnostics, then "result WHOLE HIT NEXT".
xdp_id() { in_srv ip -j link show dev "$SRV_IF" | jq -r '.[0].xdp.prog.id // 0'; }

# "attached" (listed and linked by status, XDP running with a pinned link), "detached" (none
# of these), or what was found: "prog P listed L link K".
attach_state() {
	local prog listed link=no
	prog=$(xdp_id)
	listed=$(sl -j status 2>/dev/null | jq -r --arg i "$SRV_IF" \
		'.interfaces[]? | select(.name == $i) | "\(.prog_id):\(.linked)"')
	[ -e "$PIN/link_$ifindex" ] && link=yes
	if [ "$prog" != 0 ] && [ "$listed" = "$prog:true" ] && [ "$link" = yes ]; then
		echo attached
	elif [ "$prog" = 0 ] && [ -z "$listed" ] && [ "$link" = no ]; then
		echo detached
	else
		echo "prog $prog listed '$listed' link $link"
	fi
}

attach_kills() {
	local i ms s h ms_attach=0 whole=0 hit=0 next=0 leftover=0
	for _ in 1 2; do
		ms=$(timed_ms attach "$SRV_IF" "${sizes[@]}") && [ "$ms" -gt "$ms_attach" ] &&
			ms_attach=$ms
		sl detach "$SRV_IF"
	done
	diag "attach takes up to $ms_attach ms"
	for i in $(seq "$kills"); do
		ms=$(kill_ms "$ms_attach")
		if killed_after "$ms" attach "$SRV_IF" "${sizes[@]}"; then h=1; else h=0; fi
		hit=$((hit + h))
		ms_attach=$(adapt "$ms_attach" "$ms" $h)
		s=$(attach_state)
		case "$s" in
		attached | detached) whole=$((whole + 1)) ;;
		*)
			[ $((i - whole)) -le 5 ] && diag "attach killed after $ms ms: $s"
			# Half attached: unpinning everything drops the link and the program.
			rm -rf "$PIN"
			;;
		esac
		[ "$s" = detached ] && [ -e "$PIN" ] && leftover=$((leftover + 1))
		# The next command: detach what is attached, attach (and detach) what is not.
		if [ "$s" = attached ]; then
			sl detach "$SRV_IF" 2>>"$TMP/next.attach" &&
				[ "$(attach_state)" = detached ] && [ ! -e "$PIN" ]
		else
			sl attach "$SRV_IF" "${sizes[@]}" 2>>"$TMP/next.attach" &&
				[ "$(attach_state)" = attached ] &&
				sl detach "$SRV_IF" 2>>"$TMP/next.attach" && [ ! -e "$PIN" ]
		fi && next=$((next + 1)) && continue
		# What a failed next command left is cleared by hand, so each round starts clean.
		[ $((i - next)) -le 5 ] && diag "attach killed after $ms ms left it $s with" \
			"$(ls "$PIN" 2>/dev/null | wc -l) pins: the next command failed"
		{ sl detach "$SRV_IF"; rm -rf "$PIN"; } &>/dev/null
	done
	diag "attach: $leftover kills left map pins without an attachment"
	diag "attach kills done at ${SECONDS}s"
	echo "result $whole $hit $next"
}

# A veth pair of its own in the server namespace, and a pin path of its own.
in_srv ip link add "${SRV_IF}a" type veth peer name "${SRV_IF}b" &&
	in_srv ip link set "${SRV_IF}a" up && in_srv ip link set "${SRV_IF}b" up ||
	not_ok "a second interface for the attach kills"
(
	SRV_IF=${SRV_IF}a PIN=$PIN-attach RANDOM=$((seed + 1))
	trap 'rm -rf "$PIN"' EXIT
	ifindex=$(in_srv ip -j link show dev "$SRV_IF" | jq -r '.[0].ifindex')
	[ "$(xdp_id)" = 0 ] && [ ! -e "$PIN" ] || diag "attach: $SRV_IF is not clean to start with"
	attach_kills
) >"$TMP/attach.out" 2>&1 &
attach_pid=$!
bg_pids+=("$attach_pid")
trap 'rm -rf "$PIN-attach"; cleanup' EXIT

# ---- restore: 2 entries and 1 rule against ~20k entries and 2 rules ----
cat >"$TMP/a.conf" <<'POLICY'
block add 198.18.0.130
block add 203.0.113.0/24
rule add r1 udp dport 9001 action drop
POLICY
{
	echo "rule add r2 udp dport 9002 limit src/32 rate 10/s action drop"
	echo "rule add r3 tcp dport 22 action pass"
	echo "allow add 192.0.2.0/24"
	for i in $(seq 0 19999); do echo "block add 10.$((i / 256)).$((i % 256)).0/24"; done
} >"$TMP/b.conf"

check "attach" sl attach "$SRV_IF" "${sizes[@]}"
check "restore the small policy" sl restore "$TMP/a.conf"
state_a=$(live_state)
ms_b=0 ms_a=0
for _ in 1 2; do
	ms=$(timed_ms restore "$TMP/b.conf") && [ "$ms" -gt "$ms_b" ] && ms_b=$ms
	ms=$(timed_ms restore "$TMP/a.conf") && [ "$ms" -gt "$ms_a" ] && ms_a=$ms
done
sl restore "$TMP/b.conf"
state_b=$(live_state)
sl restore "$TMP/a.conf"
is_state "$state_a" r1 0 2 && ok "small policy: dump and status agree" ||
	not_ok "small policy: dump and status agree ($state_a)"
is_state "$state_b" r2,r3 1 20000 && ok "20k policy: dump and status agree" ||
	not_ok "20k policy: dump and status agree ($state_b)"
[ "${state_a#*|*|*|}" != "${state_b#*|*|*|}" ] && ok "the two policies have different digests" ||
	not_ok "the two policies have different digests"
diag "restore takes up to $ms_b ms to the 20k policy, $ms_a ms back"

whole=0 hit=0 next=0 cur=a
for i in $(seq "$kills"); do
	if [ "$cur" = a ]; then target=b ms=$(kill_ms "$ms_b"); else target=a ms=$(kill_ms "$ms_a"); fi
	if killed_after "$ms" restore "$TMP/$target.conf"; then h=1; else h=0; fi
	hit=$((hit + h))
	[ "$target" = b ] && ms_b=$(adapt "$ms_b" "$ms" $h) || ms_a=$(adapt "$ms_a" "$ms" $h)
	s=$(live_state)
	if [ "$s" = "$state_a" ] || [ "$s" = "$state_b" ]; then
		whole=$((whole + 1))
		[ "$s" = "$state_a" ] && cur=a || cur=b
	else
		[ $((i - whole)) -le 5 ] && diag "restore killed after $ms ms: state '$s'"
		sl restore "$TMP/a.conf" >/dev/null 2>&1
		cur=a
	fi
	next_write restore && next=$((next + 1))
done
survived restore "$whole" "$hit" "$next"
diag "restore kills done at ${SECONDS}s"

# ---- block import: 50k lines of gzip into the small policy's 2 entries ----
python3 -c '
import gzip, sys
with gzip.open(sys.argv[1], "wt") as f:
    f.write("# 50k addresses, FireHOL style\n")
    for i in range(50000):
        f.write("100.%d.%d.%d\n" % (64 + (i >> 16), (i >> 8) & 255, i & 255))
' "$TMP/feed.gz"
sl restore "$TMP/a.conf"
ms_import=0
for _ in 1 2; do
	ms=$(timed_ms block import "$TMP/feed.gz") && [ "$ms" -gt "$ms_import" ] && ms_import=$ms
	state_full=$(live_state)
	sl restore "$TMP/a.conf"
done
is_state "$state_full" r1 0 50002 && ok "import of 50k: dump and status agree" ||
	not_ok "import of 50k: dump and status agree ($state_full)"
expect_eq "import leaves the policy digest" "$(echo "$state_full" | cut -d'|' -f4)" \
	"$(echo "$state_a" | cut -d'|' -f4)"
diag "import of 50k takes up to $ms_import ms"

whole=0 hit=0 next=0 partial=()
for i in $(seq "$kills"); do
	ms=$(kill_ms "$ms_import")
	if killed_after "$ms" block import "$TMP/feed.gz"; then h=1; else h=0; fi
	hit=$((hit + h))
	ms_import=$(adapt "$ms_import" "$ms" $h)
	s=$(live_state)
	if [ "$s" = "$state_a" ] || [ "$s" = "$state_full" ]; then
		whole=$((whole + 1))
	else
		partial+=("$(echo "$s" | cut -d'|' -f3)")
		[ "${#partial[@]}" -le 3 ] && diag "import killed after $ms ms: state '$s'"
	fi
	# The next command: a write when nothing was imported, else back to 2 entries.
	if [ "$s" = "$state_a" ]; then
		next_write import && next=$((next + 1))
	else
		sl restore "$TMP/a.conf" 2>>"$TMP/next.import" && next=$((next + 1))
	fi
done
[ "${#partial[@]}" -gt 0 ] && diag "import: block entries after the other kills: ${partial[*]}"
survived import "$whole" "$hit" "$next"
# A killed import leaves its new list hash pinned; the next write verb unpins it.
sl block add 192.0.2.78 && sl block del 192.0.2.78
expect_eq "no list hash of a killed build stays pinned: one an allow and block list" \
	"$(find "$PIN" -maxdepth 1 -name 'sluice_list_*' | wc -l)" 2
diag "import kills done at ${SECONDS}s"
check "detach" sl detach "$SRV_IF"

wait "$attach_pid"
grep '^#' "$TMP/attach.out"
grep -v -e '^#' -e '^result ' "$TMP/attach.out" | head -n 5 | sed 's/^/#   /'
read -r _ whole hit next < <(grep '^result ' "$TMP/attach.out")
survived attach "${whole:-0}" "${hit:-0}" "${next:-0}"
diag "kills survived:${survivors%,}"

# ---- maps full: the limiter LRU at 12x its 1024 keys ----
rm -rf "$PIN"
check "attach with 1024 limiter keys, 1000 list entries" \
	sl attach "$SRV_IF" --limiter-keys 1024 --list-entries 1000
rate=10 burst=10
echo "rule add lim udp dport 9000 limit src/32 rate $rate/s burst $burst action drop" \
	>"$TMP/lim.conf"
check "restore a limit per source" sl restore "$TMP/lim.conf"
bg "$SRV" python3 "$(dirname "$0")/udp_count.py" "$SRV_IP" 9000 "$TMP/counts"
for _ in $(seq 50); do [ -e "$TMP/counts.ready" ] && break; sleep 0.1; done
# 12,288 spoofed sources in 198.18.16.0 and up, two datagrams each (the second makes it a
# tracked key), through a raw socket; between every 48 of them one from a real source, which
# must be limited all the while.
in_cli python3 -c '
import socket, struct, sys, time
dst, good_src, out = sys.argv[1], sys.argv[2], sys.argv[3]
raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
good = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
good.bind((good_src, 0))
base = struct.unpack("!I", socket.inet_aton("198.18.16.0"))[0]
udp = struct.pack("!HHHH", 40000, 9000, 12, 0) + b"load"
sent = 0
for i in range(12288):
    src = struct.pack("!I", base + i)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0, src,
                     socket.inet_aton(dst))
    raw.sendto(ip + udp, (dst, 0))
    raw.sendto(ip + udp, (dst, 0))
    if i % 48 == 0:
        good.sendto(b"good", (dst, 9000))
        sent += 1
        if sent == 1:
            first = time.monotonic()
        last = time.monotonic()
        time.sleep(0.002)
open(out, "w").write("%d %.3f\n" % (sent, last - first))
' "$SRV_IP" "$CLI_IP" "$TMP/good"
sleep 0.5
kill "${bg_pids[-1]}"
for _ in $(seq 50); do [ -s "$TMP/counts" ] && break; sleep 0.1; done
read -r good_sent elapsed <"$TMP/good"
got=$(awk -v s="$CLI_IP" '$1 == s {print $2}' "$TMP/counts")
got=${got:-0}
want=$(awk -v b="$burst" -v r="$rate" -v e="$elapsed" 'BEGIN {printf "%d", b + r * e}')
diag "real source: $good_sent sent over ${elapsed}s, $got passed; burst + rate x time = $want"
[ "$got" -ge $((want - 1)) ] && [ "$got" -le $((want + 2)) ] &&
	ok "LRU at 12x its keys: the real source is held to burst + rate x time" ||
	not_ok "LRU at 12x its keys: the real source is held to burst + rate x time ($got, want $want)"
# Each spoofed key sends twice, within its burst: all pass; only the real source is limited.
expect_eq "every new key was admitted" "$(rule_count "$SRV_IF" lim pass)" $((2 * 12288 + got))
expect_eq "only the real source was limited" "$(rule_count "$SRV_IF" lim drop)" $((good_sent - got))
expect_eq "no error reason counted" "$(sl -j stats | jq -r --arg i "$SRV_IF" \
	'.interfaces[] | select(.name == $i) | .reasons.error.packets')" 0
diag "limiter keys in use: $(sl -j status |
	jq -r '.maps[] | select(.name == "sluice_buckets") | "\(.entries) of \(.capacity)"')"

# ---- maps full: a blocklist of 1000 entries ----
for i in $(seq 0 999); do echo "10.77.$((i / 256)).$((i % 256))"; done >"$TMP/1000.txt"
check "import 1000 entries into a list of 1000" sl block import "$TMP/1000.txt"
sl dump >"$TMP/full.before"
expect_eq "1000 block entries" "$(grep -c '^block add' "$TMP/full.before")" 1000
expect_exit "block add to the full list exits 1" 1 sl block add 192.0.2.99
grep -q 'block add.*full' "$TMP/err" && ok "the error names the block list as full" ||
	not_ok "the error names the block list as full"
diag "error: $(cat "$TMP/err")"
sl dump >"$TMP/full.after"
check "the full list lost and gained nothing" diff "$TMP/full.before" "$TMP/full.after"
printf '192.0.2.1\n192.0.2.2\n' >"$TMP/2.txt"
expect_exit "import into the full list exits 1" 1 sl block import "$TMP/2.txt"
grep -q 'full.*nothing was changed' "$TMP/err" &&
	ok "import says the list is full and nothing was changed" ||
	not_ok "import says the list is full and nothing was changed"
{
	cat "$TMP/lim.conf"
	for i in $(seq 0 1000); do echo "block add 10.78.$((i / 256)).$((i % 256))"; done
} >"$TMP/1001.conf"
expect_exit "restore of 1001 block entries exits 1" 1 sl restore "$TMP/1001.conf"
grep -q 'block list.*full' "$TMP/err" && ok "restore names the block list as full" ||
	not_ok "restore names the block list as full"
sl dump >"$TMP/full.after"
check "the live policy is untouched by both" diff "$TMP/full.before" "$TMP/full.after"
check "the allowlist has room of its own" sl allow add 192.0.2.99
check "detach" sl detach "$SRV_IF"
finish
