#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# The rollback guard of restore --confirm-within: it fails closed when it cannot start,
# confirm stops it through a pidfd and never signals a PID a stale file names, and its
# messages are JSON under -j. While it waits, status shows when it rolls back and to
# what, and edits made in the window are warned about; its log has readable times.
. "$(dirname "$0")/lib.sh"
require_root
setup_netns || { not_ok "set up namespaces"; finish; }
export -n SSH_CONNECTION SLUICE_MANAGEMENT
check "attach" sl attach "$SRV_IF"

printf 'block add 192.0.2.0/24\n' >"$TMP/old.conf"
printf 'block add 198.51.100.0/24\n' >"$TMP/new.conf"
printf 'block add 203.0.113.0/24\n' >"$TMP/newer.conf"
check "restore the old policy" sl restore "$TMP/old.conf"
old=$(sl -j status | jq -r .policy.digest)
blocks() { sl -j block list | jq -r '[.[].prefix] | join(" ")'; }

# This instance's guard files: the rollback point names its pin path on its first line.
guard_file() {
	local f
	f=$(grep -lxF "# rollback point of $PIN, saved by sluice restore --confirm-within" \
		/run/sluice/*.rollback 2>/dev/null | head -n 1)
	[ -n "$f" ] && echo "${f%.rollback}.$1"
}
alive() { kill -0 "$1" 2>/dev/null && [ "$(ps -o stat= -p "$1" | cut -c1)" != Z ]; }
# gone PID: true once PID has exited, within 3 s.
gone() {
	for _ in $(seq 30); do
		alive "$1" || return 0
		sleep 0.1
	done
	return 1
}

# Fail closed: the guard cannot start after the new policy went live, so the old one is back.
SLUICE_TEST_GUARD_ARM_FAIL=1 expect_exit "guard that cannot start: exit 1" 1 \
	sl restore --confirm-within 60s "$TMP/new.conf"
expect_eq "guard that cannot start: one line saying the old policy is back" "$(cat "$TMP/err")" \
	"sluice: restore: start the rollback guard: Input/output error; the previous policy is back"
expect_eq "guard that cannot start: the old policy is live" \
	"$(sl -j status | jq -r .policy.digest) $(blocks)" "$old 192.0.2.0/24"
expect_eq "guard that cannot start: no rollback point left" "$(guard_file rollback)" ""
SLUICE_TEST_GUARD_ARM_FAIL=1 expect_exit "the same under -j: exit 1" 1 \
	sl -j restore --confirm-within 60s "$TMP/new.conf"
expect_eq "the same under -j: one JSON error on stdout" "$(jq -c . "$TMP/out")" \
	'{"error":"restore: start the rollback guard: Input/output error; the previous policy is back"}'
expect_eq "the same under -j: the old policy is live" "$(blocks)" "192.0.2.0/24"

# Under -j the restore and confirm messages are JSON objects.
sl -j restore --confirm-within 60s "$TMP/new.conf" >"$TMP/restore.json"
expect_eq "restore --confirm-within -j: a JSON object" "$(jq -c . "$TMP/restore.json")" \
	'{"restored":true,"confirm_within":"1m","confirm_within_sec":60,"removed_rules":0,"removed_list_entries":1}'
expect_eq "the new policy is live, awaiting confirmation" "$(blocks)" "198.51.100.0/24"
pidf=$(guard_file pid)
guard=$(cut -d' ' -f1 "$pidf" 2>/dev/null)
alive "$guard" && ok "the guard runs, its pid in $pidf" || not_ok "the guard runs (pid '$guard')"

# While it waits, status shows when it rolls back, and to what.
rb=$(sl -j status | jq -c .rollback)
expect_eq "status -j: the rollback point, the guard" "$(jq -c '[.restores, .guard_pid, .guard_running]' <<<"$rb")" \
	"[\"$(guard_file rollback)\",$guard,true]"
left=$(jq -r .seconds_left <<<"$rb")
[ "$left" -gt 50 ] && [ "$left" -le 60 ] && ok "status -j: the deadline is 60 s out ($left s left)" ||
	not_ok "status -j: the deadline is 60 s out ($rb)"
expect_eq "status -j: the deadline readable, in UTC" \
	"$(jq -r .deadline_utc <<<"$rb")" "$(date -u -d "@$(jq -r .deadline <<<"$rb")" '+%Y-%m-%d %H:%M:%S UTC')"
expect_eq "status: one line says it" "$(sl status | grep '^rollback' | sed 's/(in [0-9]* s)/(in N s)/')" \
	"rollback pending: at $(jq -r .deadline_utc <<<"$rb") (in N s) the policy goes back to $(guard_file rollback) unless 'sluice confirm' runs first (guard pid $guard)"

# An edit in the window is warned about: the rollback will undo it.
warning="a rollback is pending (restore --confirm-within): at $(jq -r .deadline_utc <<<"$rb") it puts $(guard_file rollback) back and undoes this change, unless 'sluice confirm' runs first"
expect_exit "block add in the window" 0 sl block add 203.0.113.9
expect_eq "... warns that the rollback undoes it" "$(cat "$TMP/err")" "sluice: block add: $warning"
expect_exit "rule add in the window, -j" 0 sl -j rule add w tcp dport 8080 action pass
expect_eq "... warns on stderr, stdout stays JSON-clean" "$(cat "$TMP/err")|$(cat "$TMP/out")" \
	"sluice: rule add: $warning|"
expect_exit "rule del in the window" 0 sl rule del w
expect_eq "... warns too" "$(cat "$TMP/err")" "sluice: rule del: $warning"
check "block del in the window" sl block del 203.0.113.9

# confirm stops the guard.
expect_eq "confirm -j: a JSON object" "$(sl -j confirm | jq -c .)" '{"confirmed":true}'
gone "$guard" && ok "confirm stopped the guard" || not_ok "confirm stopped the guard $guard"
expect_eq "confirmed: the new policy stays, no guard files" "$(blocks) [$(guard_file pid)]" \
	"198.51.100.0/24 []"

# A guard killed outright leaves its pid file; its PID may since name another process.
check "restore --confirm-within again" sl restore --confirm-within 60s "$TMP/newer.conf"
pidf=$(guard_file pid)
guard=$(cut -d' ' -f1 "$pidf")
kill -KILL "$guard"
gone "$guard" && ok "guard killed" || not_ok "guard killed"
sleep 600 &
victim=$!
bg_pids+=("$victim")
echo "$victim" >"$pidf"
check "confirm with a stale pid file" sl confirm
sleep 0.3
alive "$victim" && ok "the process the stale file names is not signalled" ||
	not_ok "the process the stale file names is not signalled"
expect_eq "the stale pid file is gone" "$([ -e "$pidf" ] && echo there)" ""
expect_eq "confirmed: the newer policy stays" "$(blocks)" "203.0.113.0/24"
expect_eq "confirmed: status shows no rollback" "$(sl -j status | jq -c .rollback)" null
expect_exit "an edit with no rollback pending" 0 sl block add 203.0.113.9
expect_eq "... warns of nothing" "$(cat "$TMP/err")" ""
check "block del" sl block del 203.0.113.9

# Not confirmed in time: the guard rolls back, and its log line has a readable time.
check "restore --confirm-within 1s" sl restore --confirm-within 1s "$TMP/new.conf"
logf=${pidf%.pid}.log
rolled_back() { [ "$(blocks)" = "203.0.113.0/24" ] && [ -z "$(guard_file rollback)" ]; }
check "the guard rolled back after 1 s" wait_until 10 rolled_back
check "its log line has a readable UTC time and the pin path" \
	grep -qE "^20[0-9]{2}-[01][0-9]-[0-3][0-9] [0-2][0-9]:[0-5][0-9]:[0-5][0-9] UTC: $PIN: not confirmed in time: rolled back to the previous policy\$" "$logf"
check "detach" sl detach "$SRV_IF"
finish
