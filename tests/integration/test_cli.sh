#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# The command line's conventions: global options before the object or after the verb and
# its arguments, as bpftool takes them, and a "--" that leaves the rest to the verb; the
# one prologue of every verb (help, bad options and argument counts); usage errors as JSON
# under -j; what status and ban flush count.
. "$(dirname "$0")/lib.sh"
require_root
setup_netns || { not_ok "set up namespaces"; finish; }

# The pin path itself after the verb: the instance is found only if it is taken.
check "attach, --pin-path after the verb" in_srv "$SLUICE" attach "$SRV_IF" --pin-path "$PIN"
check "block add" sl block add 192.0.2.0/24 comment "doc net"
want='[{"prefix":"192.0.2.0/24","comment":"doc net"}]'
expect_eq "-j before the object" "$(sl -j block list | jq -c .)" "$want"
expect_eq "-j after the verb" "$(sl block list -j | jq -c .)" "$want"
expect_eq "--json after the verb" "$(sl block list --json | jq -c .)" "$want"
expect_eq "status -j is JSON" "$(sl status -j | jq -r .pin_path)" "$PIN"
expect_eq "-p after the verb is pretty JSON" "$(sl status -p | head -n 1)" "{"
expect_eq "dump -j after the verb" "$(sl dump -j | jq -c .block)" "$want"
check "rule add with -j after its arguments" sl rule add web tcp dport 443 action pass -j
expect_eq "the rule is there, -j not taken as a rule word" \
	"$(sl rule list -j | jq -c '[.[].name]')" '["web"]'
# After "--" a word is the verb's, not an option: here an address that does not parse.
expect_exit "after --, -j is the verb's argument" 2 sl block add -- -j
grep -q -- "-j" "$TMP/err" && ok "the verb names the word it could not take" ||
	not_ok "the verb names the word it could not take: $(cat "$TMP/err")"

# One prologue for every verb: help at every level, bad options and argument counts named.
for v in attach detach status restore confirm dump stats limits events top sets set exporter \
	agent "rule add" "rule insert" "rule replace" "rule del" "rule list" "block add" \
	"block del" "block list" "block flush" "block import" "allow add" "allow del" \
	"allow list" "allow flush" "allow import" "ban list" "ban del" "ban flush" \
	"fleet block add" "fleet block del" "fleet allow add" "fleet allow del" "fleet ban del" \
	"fleet push" "fleet status"; do
	# shellcheck disable=SC2086 # the object and verb are two words
	out=$(sl $v --help)
	rc=$?
	words=$((2 + $(wc -w <<<"$v"))) # "Usage: sluice" and the verb's words
	expect_eq "$v --help: usage on stdout, exit 0" \
		"$rc $(head -n 1 <<<"$out" | cut -d' ' -f1-"$words")" "0 Usage: sluice $v"
done
expect_exit "events -w FILE --help: the help, not a capture" 0 sl events -w "$TMP/help.pcapng" --help
expect_eq "... on stdout, naming -w" "$(head -n 1 "$TMP/out")" "Usage: sluice events [-w FILE]"
[ -e "$TMP/help.pcapng" ] && not_ok "... and writes no file" || ok "... and writes no file"
# The man page's SYNOPSIS names every object of `sluice help`, in its order.
objects=$("$SLUICE" help | sed -n 's/^  sluice \([a-z]*\) .*/\1/p' | tr '\n' ' ')
expect_eq "sluice.8's OBJECT list is sluice help's" \
	"$(sed -n '/^\.IR OBJECT " := {/,/ }"$/p' "$(dirname "$0")/../../doc/sluice.8" |
		sed -n 's/^\.BR //p' | tr -d '"|}' | tr -s ' \n' '  ')" "$objects"
for level in "" "block" "block add" "fleet" "fleet block" "fleet status" "limits"; do
	# shellcheck disable=SC2086
	expect_exit "help at the level of '$level' exits 0" 0 sl $level help
	grep -q '^Usage' "$TMP/out" && ok "help at '$level' prints the usage on stdout" ||
		not_ok "help at '$level' prints the usage on stdout"
done
expect_exit "an option a verb does not have is a usage error" 2 sl detach --bogus
expect_eq "... named in one line, then the usage" "$(cat "$TMP/err")" \
	"sluice: detach: unknown option or missing argument '--bogus'
Usage: sluice detach IFACE"
expect_exit "too many arguments is a usage error" 2 sl status extra
expect_eq "... said so, then the usage" "$(cat "$TMP/err")" \
	"sluice: status: too many arguments
Usage: sluice status"
expect_exit "a missing value is a usage error" 2 sl stats --watch
grep -q "stats: unknown option or missing argument '--watch'" "$TMP/err" &&
	ok "... naming the option" || not_ok "... naming the option: $(cat "$TMP/err")"
check "a comment that begins with '-' is the verb's word, not an option" \
	sl block add 198.51.100.0/24 comment -dash
expect_eq "... and is kept" "$(sl -j block list | jq -r '.[] | select(.prefix == "198.51.100.0/24") | .comment')" "-dash"

# Under -j, usage errors are one JSON object on stdout, exit 2, and nothing else.
json_usage() {
	local desc=$1
	shift
	expect_exit "-j $desc: exit 2" 2 sl "$@"
	expect_eq "-j $desc: one JSON error on stdout, nothing on stderr" \
		"$(jq -c 'keys' "$TMP/out" 2>&1 | tr '\n' ' ')$(wc -l <"$TMP/out") [$(cat "$TMP/err")]" \
		'["error"] 1 []'
}
json_usage "block add (missing argument)" -j block add
expect_eq "-j block add: the error says what is missing and the usage" "$(jq -r .error "$TMP/out")" \
	"block add: missing arguments; usage: sluice block add [--set NAME] PREFIX [ttl DURATION] [comment TEXT] [set NAME]"
json_usage "block list --bogus (option after the verb)" block list -j --bogus
expect_eq "-j block list --bogus: the error names the option" "$(jq -r .error "$TMP/out")" \
	"block list: unknown option or missing argument '--bogus'; usage: sluice block list [--set NAME]"
json_usage "block (no verb)" -j block
json_usage "no object" -j
json_usage "restore (no file)" -j restore
json_usage "top -n (no value)" -j top -n
json_usage "stats --watch 0 (bad value)" -j stats --watch 0
json_usage "limits --top 0 (bad value)" -j limits --top 0
json_usage "limits (too many arguments, -j after them)" limits a b -j
json_usage "sets (too many arguments)" sets extra -j
json_usage "events -w with -j" -j events -w "$TMP/j.pcapng"
json_usage "fleet status (too many arguments)" -j fleet status extra
json_usage "fleet status --redis (not a URL)" fleet status --redis bogus://x -j
json_usage "fleet block add (missing argument)" -j fleet block add
json_usage "fleet push (no such file)" fleet push "$TMP/none.conf" -j
json_usage "agent (an argument)" -j agent extra
# Bounded: an agent that retried a URL no retry can mend would run forever.
expect_exit "-j agent --redis with a bad port: exit 2 at once" 2 \
	timeout 10 "$SLUICE" --pin-path "$PIN" -j agent --redis redis://192.0.2.1:0 --state-dir "$TMP"
expect_eq "... one JSON error naming it" "$(cat "$TMP/out")" \
	'{"error":"agent: redis://192.0.2.1:0: bad port"}'
json_usage "exporter (an argument)" exporter extra -j
expect_exit "agent: an unexpected argument is a usage error" 2 sl agent extra
expect_eq "... named in one line, then the usage" "$(head -n 2 "$TMP/err")" \
	"sluice: agent: unexpected argument \"extra\"
Usage: sluice agent [--redis URL] [--redis-password-file FILE] [--host NAME]"
expect_exit "exporter: an unexpected argument is a usage error" 2 sl exporter extra
expect_eq "... named in one line, then the usage" "$(head -n 1 "$TMP/err")" \
	"sluice: exporter: unexpected argument \"extra\""

# Runtime errors exit 1, as JSON under -j too.
json_runtime() {
	local desc=$1
	shift
	expect_exit "-j $desc: exit 1" 1 sl "$@"
	expect_eq "-j $desc: one JSON error on stdout" \
		"$(jq -c 'keys' "$TMP/out" 2>&1 | tr '\n' ' ')$(wc -l <"$TMP/out") [$(cat "$TMP/err")]" \
		'["error"] 1 []'
}
json_runtime "limits, nothing attached" limits -j --pin-path "$TMP/nopins"
json_runtime "sets, nothing attached" -j sets --pin-path "$TMP/nopins"
json_runtime "fleet status, no Redis there" fleet status --redis "unix:$TMP/none.sock" -j
expect_eq "... saying so" "$(jq -r .error "$TMP/out")" \
	"fleet status: connect to unix:$TMP/none.sock: No such file or directory"

# -j before the object or after the verb, on the read verbs the later features added.
expect_eq "limits -j before the object" "$(sl -j limits | jq -c .)" '{"limits":[]}'
expect_eq "limits -j after the verb" "$(sl limits -j | jq -c .)" '{"limits":[]}'
expect_eq "sets -j before the object" "$(sl -j sets | jq -c .)" '[]'
expect_eq "sets -j after the verb" "$(sl sets -j | jq -c .)" '[]'
for v in status dump "rule list" "allow list" "block list" "ban list" sets stats limits; do
	# shellcheck disable=SC2086 # the object and verb are two words
	before=$(sl -j $v | jq -c .)
	# shellcheck disable=SC2086
	expect_eq "$v: -j after the verb is -j before the object" "$(sl $v -j | jq -c .)" \
		"${before:-no JSON}"
done
SOCK="$TMP/redis.sock"
bg "$SRV" redis-server --port 0 --unixsocket "$SOCK" --save '' --appendonly no --dir "$TMP" \
	>"$TMP/redis.log" 2>&1
check "redis-server on a unix socket" wait_until 5 redis-cli -s "$SOCK" ping
expect_eq "fleet status -j before the object" \
	"$(sl -j fleet status --redis "unix:$SOCK" --fleet cli | jq -c .)" '{"fleet":"cli","hosts":[]}'
expect_eq "fleet status -j after the verb and its options" \
	"$(sl fleet status --redis "unix:$SOCK" --fleet cli -j | jq -c .)" '{"fleet":"cli","hosts":[]}'
echo "rule add web tcp dport 443 action pass" >"$TMP/fleet.conf"
expect_eq "fleet push -j after the file: the version as JSON" \
	"$(sl fleet push "$TMP/fleet.conf" --redis "unix:$SOCK" --fleet cli -j | jq -c .)" \
	"{\"fleet\":\"cli\",\"version\":1,\"file\":\"$TMP/fleet.conf\"}"

# limits: -j before or after the verb and its rule, and a rule that is not there.
expect_exit "limits of a rule that is not there: exit 2" 2 sl limits nosuch
expect_eq "... said in one line" "$(cat "$TMP/err")" \
	'sluice: limits: rule "nosuch": no such rule in the live policy'

# status counts what is live, not what the arrays hold.
slots() { sl -j status | jq -c --arg m "$1" '.maps[] | select(.name == $m) | [.entries, .capacity, .counts]'; }
expect_eq "status: no limiter slot live yet" "$(slots sluice_slots)" '[0,1048576,"live slots"]'
expect_eq "status: no key on probation yet" "$(slots sluice_probation | jq -c '[.[0], .[2]]')" '[0,"live keys"]'
expect_eq "status: the list filters count bits set" "$(slots sluice_filter | jq -c '[.[0] > 0, .[2]]')" '[true,"bits set"]'
sl status >"$TMP/status.txt"
grep -qE '^map sluice_slots +0 / 1048576 .* live slots$' "$TMP/status.txt" &&
	ok "status text: live slots of the slot array" || not_ok "status text: $(grep slots "$TMP/status.txt")"
check "a rule that bans the second datagram of a source" \
	sl rule add b udp dport 5353 limit src/32 rate 1/h burst 1 action ban 1h
udp_send "$CLI_IP" "$SRV_IP" 5353 3
udp_send 198.18.0.3 "$SRV_IP" 5353 3
expect_eq "status: the limited sources' slots are live" "$(slots sluice_slots | jq -c '.[0] > 0')" true
expect_eq "two bans" "$(sl -j ban list | jq length)" 2
lim='[.limits[] | [.rule, .limit, .spec, .action, .keys]]'
want_lim='[["b",0,"src/32 src6/64 rate 1/h burst 1","ban",2]]'
expect_eq "limits RULE, -j before the object" "$(sl -j limits b | jq -c "$lim")" "$want_lim"
expect_eq "limits RULE -j" "$(sl limits b -j | jq -c "$lim")" "$want_lim"
expect_eq "limits -j RULE --top 1: one key" "$(sl limits -j b --top 1 | jq -c '.limits[0].top | length')" 1
expect_eq "ban flush -j counts what it lifted" "$(sl -j ban flush | jq -c .)" '{"lifted":2}'
expect_eq "no ban left" "$(sl -j ban list | jq length)" 0

# A prefix of several verbs is refused, every candidate named; an exact name still wins.
expect_exit "'st' (status or stats) is ambiguous" 2 sl st
expect_eq "... naming every candidate" "$(cat "$TMP/err")" "sluice: 'st' is ambiguous: status, stats"
expect_exit "'s' names four" 2 sl s
expect_eq "... all four" "$(cat "$TMP/err")" "sluice: 's' is ambiguous: status, set, sets, stats"
expect_exit "'block a' (add, not allow: within the object) is one verb" 0 sl block a 198.51.100.7
expect_exit "-j: the ambiguity is a JSON error" 2 sl -j st
expect_eq "... on stdout" "$(jq -r .error "$TMP/out")" "'st' is ambiguous: status, stats"
expect_exit "'statu' is status alone" 0 sl statu

# -V under -j is JSON, before or after -V.
expect_eq "-j -V is JSON" "$("$SLUICE" -j -V | jq -c 'keys')" '["layout_version","version"]'
expect_eq "-V -j too" "$("$SLUICE" -V -j | jq -r .layout_version)" \
	"$(sed -n 's/^#define SLUICE_LAYOUT_VERSION \([0-9]*\).*/\1/p' "$(dirname "$0")/../../include/sluice.h")"

# "--" ends the options everywhere, and a rule name cannot begin with '-'.
expect_exit "a rule named -x is refused" 2 sl rule add -- -x tcp dport 1 action pass
grep -q 'expected a NAME of letters, digits, _ . or - (at most 31), got "-x"' "$TMP/err" &&
	ok "... as a name" || not_ok "... as a name: $(cat "$TMP/err")"
expect_exit "rule del -- -x: not an option, no such rule" 1 sl rule del -- -x
expect_exit "-- before the object" 0 sl -- status
expect_exit "block del -- PREFIX" 0 sl block del -- 198.51.100.7
expect_exit "after --, -v is the verb's (status takes no argument)" 2 sl status -- -v

# Plurals: one ban, not "1 bans".
check "a rule that bans on the first datagram" sl rule add one udp dport 5354 limit src/32 rate 1/h burst 1 action ban 1h
udp_send "$CLI_IP" "$SRV_IP" 5354 2
bans() { [ "$(sl -j ban list | jq length)" = "$1" ]; }
check "the ban is there" wait_until 5 bans 1
expect_exit "ban flush -v" 0 sl ban flush -v
expect_eq "... says 1 ban" "$(cat "$TMP/err")" "sluice: ban flush: removed 1 ban"

# The last detach says what it removed: the policy, the lists, the bans, the counters.
udp_send "$CLI_IP" "$SRV_IP" 5354 2
check "a ban again" wait_until 5 bans 1
nrules=$(sl -j rule list | jq length)
nentries=$(($(sl -j block list | jq length) + $(sl -j allow list | jq length)))
expect_exit "detach, -v after the verb" 0 sl detach "$SRV_IF" -v
expect_eq "the last detach names what it removed" "$(grep -v '^sluice: collected' "$TMP/err")" \
	"sluice: detach: $SRV_IF was the last interface: removed the policy ($nrules rules), the lists ($nentries entries), 1 ban and the counters"
finish
