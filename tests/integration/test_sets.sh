#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Named sets: a feed imported into its set replaces only that set, entries by hand and of
# other sets stay; dump and restore carry the sets; the refresh script keeps a set when
# its command fails or its feed is empty.
. "$(dirname "$0")/lib.sh"
require_root
setup_netns || { not_ok "set up namespaces"; finish; }
check "attach" sl attach "$SRV_IF"

in_set() { sl -j block list --set "$1" | jq -r '[.[].prefix] | sort | join(" ")'; }
reaches() { in_cli ping -c1 -W1 "$SRV_IP" >/dev/null 2>&1; }

printf '%s\n' 192.0.2.0/24 198.51.100.0/24 "$CLI_IP" >"$TMP/feed1"
check "reachable before any set" reaches
check "import feed-a" sl block import --set feed-a "$TMP/feed1"
expect_eq "feed-a holds the feed" "$(in_set feed-a)" "192.0.2.0/24 $CLI_IP 198.51.100.0/24"
reaches && not_ok "a source in feed-a is dropped" || ok "a source in feed-a is dropped"
check "192.0.2.0/24 added by hand too" sl block add 192.0.2.0/24 comment "by hand"
check "feed-b lists 198.51.100.0/24 too" sl block add --set feed-b 198.51.100.0/24
expect_eq "sets -j: feed-a's entries" \
	"$(sl -j sets | jq -r '.[] | select(.name == "feed-a") | "\(.list) \(.entries) \(.imported)"')" \
	"block 3 3"

# The feed changes: the client's address and the two shared prefixes left it.
printf '203.0.113.0/24\n' | gzip >"$TMP/feed2.gz"
check "refresh feed-a from a gzipped feed" sl block import --set feed-a "$TMP/feed2.gz"
expect_eq "feed-a holds only the new feed" "$(in_set feed-a)" "203.0.113.0/24"
expect_eq "the list keeps the entries by hand and of feed-b" \
	"$(sl -j block list | jq -r '[.[].prefix] | sort | join(" ")')" \
	"192.0.2.0/24 198.51.100.0/24 203.0.113.0/24"
expect_eq "the entry by hand kept its comment" \
	"$(sl -j block list | jq -r '.[] | select(.prefix == "192.0.2.0/24") | .comment')" "by hand"
check "a source that left the feed passes again" reaches

sl dump >"$TMP/dump"
expect_eq "dump writes an entry once per set" \
	"$(grep -c '^block add 198.51.100.0/24' "$TMP/dump") $(grep -c '^block add 198.51.100.0/24 set feed-b$' "$TMP/dump")" "1 1"
check "restore the dump" sl restore "$TMP/dump"
sl dump >"$TMP/dump2"
expect_eq "a dump after the restore is the same" "$(diff "$TMP/dump" "$TMP/dump2" && echo same)" same
expect_eq "restore names the sets again" "$(sl -j sets | jq -r '[.[].name] | sort | join(" ")')" \
	"feed-a feed-b"

check "del from feed-b" sl block del 198.51.100.0/24 --set feed-b
expect_exit "del from a set that does not list it" 1 sl block del 198.51.100.0/24 --set feed-b
expect_exit "list of a set that does not exist" 2 sl block list --set nosuch
check "flush feed-a" sl block flush --set feed-a
expect_eq "flushing feed-a leaves the entry by hand" \
	"$(sl -j block list | jq -r '[.[].prefix] | sort | join(" ")')" "192.0.2.0/24"
expect_eq "flushing feed-a forgets its name; feed-b stays, empty" \
	"$(sl -j sets | jq -r '[.[] | "\(.name) \(.entries)"] | join(" ")')" "feed-b 0"

# dist/sluice-set-refresh, what sluice-set@.timer runs.
refresh() {
	in_srv env SLUICE="$SLUICE" SLUICE_PIN_PATH="$PIN" SLUICE_SETS_DIR="$TMP/sets" \
		"$(dirname "$0")/../../dist/sluice-set-refresh" "$@"
}
mkdir -p "$TMP/sets"
printf 'LIST=block\nCOMMAND="cat %s"\n' "$TMP/feed1" >"$TMP/sets/drop.conf"
check "refresh drop from a command" refresh drop
expect_eq "drop holds the command's feed" "$(in_set drop)" "192.0.2.0/24 $CLI_IP 198.51.100.0/24"
printf 'LIST=block\nCOMMAND="false"\n' >"$TMP/sets/drop.conf"
expect_exit "a failing command fails the refresh" 1 refresh drop
expect_eq "and leaves the set as it was" "$(in_set drop)" "192.0.2.0/24 $CLI_IP 198.51.100.0/24"
printf 'LIST=block\nCOMMAND="true"\n' >"$TMP/sets/drop.conf"
expect_exit "an empty feed is refused" 1 refresh drop
expect_eq "and leaves the set as it was, too" "$(in_set drop)" "192.0.2.0/24 $CLI_IP 198.51.100.0/24"
expect_exit "a set without a configuration" 2 refresh nosuch
finish
