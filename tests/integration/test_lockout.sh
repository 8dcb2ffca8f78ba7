#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Anti-lockout and the rollback guard; pins owned by root and private.
. "$(dirname "$0")/lib.sh"
require_root
setup_netns || { not_ok "set up namespaces"; finish; }
check "attach" sl attach "$SRV_IF"
export -n SSH_CONNECTION SLUICE_MANAGEMENT
ssh_env="SSH_CONNECTION=$CLI_IP 50000 $SRV_IP 22"

expect_eq "pin directory is 0700 root" "$(stat -c '%a %U' "$PIN")" "700 root"
expect_eq "no pinned object is readable by others" \
	"$(find "$PIN" -mindepth 1 -perm /077 | wc -l)" 0

cat >"$TMP/good.conf" <<'POLICY'
rule add web tcp dport 80 limit src/32 rate 10/s action drop
POLICY
cat >"$TMP/locks-out.conf" <<POLICY
block add 198.18.0.0/24
POLICY
cat >"$TMP/acl.conf" <<'POLICY'
rule add nossh tcp dport 22 action drop
POLICY
cat >"$TMP/allowed.conf" <<POLICY
allow add $CLI_IP comment "management"
block add 198.18.0.0/24
rule add nossh tcp dport 22 action drop
POLICY
check "restore a good policy" sl restore "$TMP/good.conf"
digest=$(sl -j status | jq -r .policy.digest)

expect_exit "a block over the SSH client is refused" 2 env "$ssh_env" "$SLUICE" --pin-path "$PIN" restore "$TMP/locks-out.conf"
expect_eq "the refusal names the client and the cause" "$(cat "$TMP/err")" \
	"sluice: restore: would cut off your SSH client $CLI_IP (tcp port 22): block 198.18.0.0/24 covers it; allowlist it, or use --force"
expect_eq "policy unchanged after the refusal" "$(sl -j status | jq -r .policy.digest)" "$digest"
expect_exit "an ACL dropping the SSH port is refused" 2 env "$ssh_env" "$SLUICE" --pin-path "$PIN" restore "$TMP/acl.conf"
expect_exit "restore --check refuses it too" 2 env "$ssh_env" "$SLUICE" --pin-path "$PIN" restore --check "$TMP/acl.conf"
check "the same policy with the client allowlisted is fine" \
	env "$ssh_env" "$SLUICE" --pin-path "$PIN" restore "$TMP/allowed.conf"
check "the allowlisted client still reaches the server" in_cli ping -c1 -W1 -I "$CLI_IP" "$SRV_IP"
check "restore the good policy" sl restore "$TMP/good.conf"
expect_exit "block add over the SSH client is refused" 2 env "$ssh_env" "$SLUICE" --pin-path "$PIN" block add 198.18.0.0/16
printf '203.0.113.0/24\n198.18.0.2\n' >"$TMP/feed.txt"
expect_exit "block import over the SSH client is refused" 2 env "$ssh_env" "$SLUICE" --pin-path "$PIN" block import "$TMP/feed.txt"
expect_eq "nothing imported" "$(sl -j block list | jq length)" 0
expect_exit "rule add dropping SLUICE_MANAGEMENT is refused" 2 \
	env SLUICE_MANAGEMENT=198.18.0.3 "$SLUICE" --pin-path "$PIN" rule add nossh tcp dport 22 action drop
expect_exit "a malformed SLUICE_MANAGEMENT is an error" 2 \
	env SLUICE_MANAGEMENT=nonsense "$SLUICE" --pin-path "$PIN" rule add nossh tcp dport 22 action drop
check "--force goes ahead" env "$ssh_env" "$SLUICE" --pin-path "$PIN" -f block add 198.18.0.0/24
in_cli ping -c1 -W1 -I "$CLI_IP" "$SRV_IP" >/dev/null && not_ok "forced block drops" || ok "forced block drops"
check "block flush" sl block flush

# Rollback guard: not confirmed in time, the previous policy comes back. The guard is the
# detached process running this restore; the test waits for it to end, not for a time.
guard_pid() { pgrep -f -x -- "$SLUICE --pin-path $PIN restore --confirm-within 2s $TMP/locks-out.conf"; }
no_guard() { ! guard_pid >/dev/null; }
restored_at=$(now_ms)
check "restore with --confirm-within 2s" sl restore --confirm-within 2s "$TMP/locks-out.conf"
expect_eq "the new policy is live" "$(sl -j dump | jq -r '.block[0].prefix')" 198.18.0.0/24
check "a guard process waits" guard_pid
check "the guard ends" wait_until 15 no_guard
elapsed=$(($(now_ms) - restored_at))
[ "$elapsed" -ge 2000 ] && ok "the guard waited the 2 s (${elapsed} ms)" ||
	not_ok "the guard waited the 2 s (ended after ${elapsed} ms)"
expect_eq "not confirmed: rolled back" "$(sl -j status | jq -r .policy.digest) $(sl -j block list | jq length)" "$digest 0"
check "reachable again after the rollback" in_cli ping -c1 -W1 -I "$CLI_IP" "$SRV_IP"
check "restore with --confirm-within 2s again" sl restore --confirm-within 2s "$TMP/locks-out.conf"
check "a guard process waits again" guard_pid
check "confirm" sl confirm
# Confirm stops the guard: once it is gone nothing can roll the policy back.
check "confirm ends the guard" wait_until 5 no_guard
expect_eq "confirmed: the new policy stays" "$(sl -j block list | jq -r '.[0].prefix')" 198.18.0.0/24
expect_exit "confirm with nothing pending exits 1" 1 sl confirm
check "detach" sl detach "$SRV_IF"
finish
