#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# The command line's conventions: global options before the object or after the verb and
# its arguments, as bpftool takes them, and a "--" that leaves the rest to the verb.
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
check "detach, -v after the verb" sl detach "$SRV_IF" -v
finish
