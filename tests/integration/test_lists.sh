#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# allow and block lists with real traffic: effect, precedence, TTL expiry, import.
. "$(dirname "$0")/lib.sh"
require_root
setup_netns || { not_ok "set up namespaces"; finish; }
check "attach" sl attach "$SRV_IF"

reach() { in_cli ping -c 1 -W 1 -I "$1" "$SRV_IP" >/dev/null 2>&1; }
reach6() { in_cli ping -6 -c 1 -W 1 -I "$1" "$SRV_IP6" >/dev/null 2>&1; }

check "client reaches the server" reach "$CLI_IP"
check "block add a /24" sl block add 198.18.0.0/24 comment "test net"
reach "$CLI_IP" && not_ok "blocked source is dropped" || ok "blocked source is dropped"
[ "$(drop_count "$SRV_IF" blocklist)" -ge 1 ] && ok "blocklist drops counted" ||
	not_ok "blocklist drops counted"
check "allow add a /32 inside the blocked /24" sl allow add 198.18.0.3
check "allowlisted address passes inside the block" reach 198.18.0.3
reach "$CLI_IP" && not_ok "the rest of the /24 stays blocked" || ok "the rest of the /24 stays blocked"
expect_eq "block list -j" "$(sl -j block list | jq -c '.')" '[{"prefix":"198.18.0.0/24","comment":"test net"}]'
expect_eq "allow list" "$(sl allow list)" "allow add 198.18.0.3"
check "block del" sl block del 198.18.0.0/24
check "reachable after block del" reach "$CLI_IP"
expect_exit "block del of an absent prefix exits 1" 1 sl block del 198.18.0.0/24
grep -q "not listed" "$TMP/err" && ok "absent prefix is named" || not_ok "absent prefix is named"
expect_exit "block add with host bits exits 2" 2 sl block add 198.18.0.1/24
expect_exit "block add 300.1.2.3 exits 2" 2 sl block add 300.1.2.3
expect_eq "error line for a bad prefix" "$(cat "$TMP/err")" \
	"sluice: block add: 300.1.2.3: not an IPv4 or IPv6 prefix"

# IPv6
check "v6 reachable" reach6 "$CLI_IP6"
check "block add a v6 /64" sl block add fd00:5::/64
reach6 "$CLI_IP6" && not_ok "blocked v6 source is dropped" || ok "blocked v6 source is dropped"
check "allow add a v6 /128 inside it" sl allow add fd00:5::3
check "allowlisted v6 address passes" reach6 fd00:5::3
check "block flush" sl block flush
check "allow flush" sl allow flush
check "v6 reachable after flush" reach6 "$CLI_IP6"

# TTL: the entry stops matching at once when it expires, and is collected.
added_at=$(now_ms)
check "block add with ttl 2s" sl block add "$CLI_IP" ttl 2s
reach "$CLI_IP" && not_ok "ttl entry drops while live" || ok "ttl entry drops while live"
ttl=$(sl -j block list | jq -r '.[0].ttl_sec')
[ "$ttl" -ge 1 ] && [ "$ttl" -le 2 ] && ok "remaining ttl listed ($ttl s)" || not_ok "remaining ttl listed ($ttl)"
# Waits for the entry to expire (gone from the list), then for the data path to pass it.
block_count() { sl -j block list | jq length; }
check "the ttl entry expires" wait_until 10 output_is 0 block_count
elapsed=$(($(now_ms) - added_at))
[ "$elapsed" -ge 1900 ] && ok "the entry lasted its 2 s (${elapsed} ms)" ||
	not_ok "the entry lasted its 2 s (gone after ${elapsed} ms)"
check "expired entry no longer drops" wait_until 5 reach "$CLI_IP"
expect_eq "expired entry not listed" "$(sl -j block list | jq -c '.')" "[]"
check "a write verb runs" sl allow add 192.0.2.0/24
expect_eq "expired entry collected from the map" \
	"$(sl -j status | jq -r '[.maps[] | select(.name | startswith("sluice_block")) | .entries] | add')" 0
sl allow flush

# Import: Spamhaus DROP format, gzip, all or nothing.
{
	echo "; Spamhaus DROP List 2026/11/28 - (c) 2026 The Spamhaus Project"
	for i in $(seq 0 255); do echo "203.0.$i.0/24 ; SBL$i"; done
	echo "198.18.0.2/32 ; SBL999"
} | gzip >"$TMP/drop.txt.gz"
out=$(sl -j block import "$TMP/drop.txt.gz")
expect_eq "import reports the count" "$(echo "$out" | jq -r .imported)" 257
reach "$CLI_IP" && not_ok "imported prefix drops" || ok "imported prefix drops"
expect_eq "imported entries listed" "$(sl -j block list | jq length)" 257
{ echo "192.0.2.0/24"; echo "not-a-prefix"; echo "198.51.100.0/24"; } >"$TMP/bad.txt"
expect_exit "import with a bad line exits 2" 2 sl block import "$TMP/bad.txt"
grep -q "bad.txt:2" "$TMP/err" && ok "bad import line is named" || not_ok "bad import line is named: $(cat "$TMP/err")"
expect_eq "nothing imported from a bad file" "$(sl -j block list | jq length)" 257
printf '# FireHOL netset\n198.51.100.0/24\n2001:db8::/32\n' | gzip | sl block import - >/dev/null
expect_eq "FireHOL netset from stdin" "$(sl -j block list | jq length)" 259
check "block flush" sl block flush
check "reachable after flush" reach "$CLI_IP"

# Host bits: an error by default, masked with --mask as ipset does.
printf '198.51.100.7/24\n203.0.113.0/24\n2001:db8::1/32\n' >"$TMP/host.txt"
expect_exit "import of a prefix with host bits set exits 2" 2 sl block import "$TMP/host.txt"
grep -q 'host bits set (did you mean 198.51.100.0/24?)' "$TMP/err" && ok "... saying so" ||
	not_ok "... saying so: $(cat "$TMP/err")"
expect_exit "import --mask takes them masked" 0 sl block import --mask "$TMP/host.txt"
expect_eq "... as their prefixes" "$(sl -j block list | jq -c '[.[].prefix] | sort')" \
	'["198.51.100.0/24","2001:db8::/32","203.0.113.0/24"]'
expect_exit "--mask keeps a bad address an error" 2 sl block import --mask - <<<"198.51.100.300/24"
sl block flush

# The summary counts distinct prefixes: a feed that repeats one (or gives it again with
# host bits, masked) adds it once.
printf '198.51.100.0/24\n198.51.100.0/24\n198.51.100.9/24\n203.0.113.1\n' >"$TMP/dups.txt"
expect_exit "import with repeats" 0 sl block import --mask "$TMP/dups.txt"
expect_eq "... counts distinct prefixes and the repeats" "$(sed 's/ in [0-9.]* s / in T s /' "$TMP/out")" \
	"block import: 2 prefixes in T s (2 were listed again)"
expect_eq "... -j: imported is distinct prefixes" \
	"$(sl -j block import --mask "$TMP/dups.txt" | jq -c '[.imported, .duplicates]')" '[2,2]'
expect_eq "... as many as listed" "$(sl -j block list | jq length)" 2
expect_exit "one prefix: singular" 0 sl block import - <<<"203.0.113.1"
expect_eq "... 1 prefix" "$(sed 's/ in [0-9.]* s$/ in T s/' "$TMP/out")" "block import: 1 prefix in T s"

# del --exist: deleting what is not listed is done, not an error.
expect_exit "del of a prefix not listed exits 1" 1 sl block del 192.0.2.99
expect_eq "... saying so" "$(cat "$TMP/err")" "sluice: block del: 192.0.2.99: not listed"
expect_exit "del --exist of a prefix not listed exits 0" 0 sl block del --exist 192.0.2.99
expect_eq "... silently" "$(cat "$TMP/err")" ""
expect_exit "del --exist of a listed prefix removes it" 0 sl block del 203.0.113.1 --exist
expect_eq "... gone" "$(sl -j block list | jq -c '[.[].prefix] | index("203.0.113.1/32")')" null
check "block flush" sl block flush
check "detach" sl detach "$SRV_IF"

# "list full" names the capacity and the option that sets it.
check "attach with room for 4 entries" sl attach "$SRV_IF" --list-entries 4
for i in 1 2 3 4; do sl block add "192.0.2.$i" || not_ok "block add 192.0.2.$i"; done
expect_exit "a fifth entry: list full, exit 1" 1 sl block add 192.0.2.5
expect_eq "... naming the capacity" "$(cat "$TMP/err")" \
	"sluice: block add: 192.0.2.5: list full: 4 entries, see attach --list-entries"
printf '198.51.100.%d\n' 1 2 3 4 5 6 >"$TMP/six.txt"
expect_exit "an import past the capacity: exit 1" 1 sl block import "$TMP/six.txt"
expect_eq "... naming it too" "$(cat "$TMP/err")" \
	"sluice: block import: $TMP/six.txt: list full: 4 entries, see attach --list-entries; nothing was changed"
check "detach" sl detach "$SRV_IF"
finish
