#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# dist/sluice-service, what sluice@.service runs: a restart keeps the lists and rules
# edited live (saved at stop, restored at start), and a policy file edited after the
# last stop wins over the saved state.
. "$(dirname "$0")/lib.sh"
require_root
setup_netns || { not_ok "set up namespaces"; finish; }

service() {
	in_srv env SLUICE="$SLUICE" SLUICE_PIN_PATH="$PIN" SLUICE_POLICY="$TMP/policy.conf" \
		SLUICE_STATE_DIR="$TMP/state" SLUICE_ATTACH_MODE=auto \
		"$(dirname "$0")/../../dist/sluice-service" "$@"
}
listed() { sl -j block list | jq -r '[.[].prefix] | sort | join(" ")'; }

printf 'rule add web tcp dport 8080 action drop\nblock add 192.0.2.0/24\n' >"$TMP/policy.conf"
touch -d '-1 min' "$TMP/policy.conf"
check "start: attach and restore the policy file" service start "$SRV_IF"
expect_eq "the policy file's block entry is live" "$(listed)" "192.0.2.0/24"
check "a block entry added live" sl block add 198.51.100.0/24 comment live
check "a rule added live" sl rule add dns udp dport 53 action drop
check "stop: save the state, detach" service stop "$SRV_IF"
[ -e "$PIN/sluice_state" ] && not_ok "the last detach removed the maps" ||
	ok "the last detach removed the maps"
expect_eq "the saved state holds the live entry" \
	"$(grep -c '^block add 198.51.100.0/24 comment "live"$' "$TMP/state/state.conf")" 1

check "start again" service start "$SRV_IF"
expect_eq "the entries edited live are back" "$(listed)" "192.0.2.0/24 198.51.100.0/24"
expect_eq "the rule added live is back" "$(sl -j rule list | jq -r '[.[].name] | join(" ")')" \
	"web dns"

check "stop" service stop "$SRV_IF"
printf 'block add 203.0.113.0/24\n' >"$TMP/policy.conf"
check "start after the policy file changed" service start "$SRV_IF"
expect_eq "the newer policy file wins over the saved state" "$(listed)" "203.0.113.0/24"
check "stop at the end" service stop "$SRV_IF"
expect_exit "stop without an interface is a usage error" 2 service stop
finish
