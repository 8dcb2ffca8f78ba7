# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Shared setup for the netns integration tests: two namespaces joined by a veth pair,
# a private pin path, TAP output, and teardown on any exit.
#   server ns $SRV: veth $SRV_IF 198.18.0.1/24 fd00:5::1/64  (sluice attaches here)
#   client ns $CLI: veth $CLI_IF 198.18.0.2/24 fd00:5::2/64

: "${SLUICE:?SLUICE must name the sluice binary}"
TEST_NAME=$(basename "$0" .sh)
SRV="sl-srv-$$"
CLI="sl-cli-$$"
SRV_IF="sls$$"
CLI_IF="slc$$"
SRV_IP=198.18.0.1
CLI_IP=198.18.0.2
SRV_IP6=fd00:5::1
CLI_IP6=fd00:5::2
PIN="/sys/fs/bpf/sluice-test-$$"
TMP=$(mktemp -d)
tap_n=0
tap_fail=0
bg_pids=()

ok() {
	tap_n=$((tap_n + 1))
	echo "ok $tap_n - $*"
}

not_ok() {
	tap_n=$((tap_n + 1))
	tap_fail=$((tap_fail + 1))
	echo "not ok $tap_n - $*"
}

diag() {
	echo "# $*"
}

# check DESCRIPTION COMMAND...: ok when the command succeeds.
check() {
	local desc=$1
	shift
	if "$@" >"$TMP/check.out" 2>&1; then
		ok "$desc"
	else
		not_ok "$desc"
		sed 's/^/#   /' "$TMP/check.out" | head -n 20
	fi
}

# expect_eq DESCRIPTION GOT WANT
expect_eq() {
	if [ "$2" = "$3" ]; then
		ok "$1"
	else
		not_ok "$1"
		diag "got '$2', want '$3'"
	fi
}

# expect_exit DESCRIPTION CODE COMMAND...: the command exits with CODE; stderr kept in $TMP/err.
expect_exit() {
	local desc=$1 want=$2 rc
	shift 2
	"$@" >"$TMP/out" 2>"$TMP/err"
	rc=$?
	if [ "$rc" -eq "$want" ]; then
		ok "$desc"
	else
		not_ok "$desc"
		diag "exit $rc, want $want; stderr: $(head -c 400 "$TMP/err")"
	fi
}

in_srv() { nsenter --net="/run/netns/$SRV" "$@"; }
in_cli() { nsenter --net="/run/netns/$CLI" "$@"; }

# sluice in the server namespace, on this test's pin path.
sl() { in_srv "$SLUICE" --pin-path "$PIN" "$@"; }

cleanup() {
	local pid
	for pid in "${bg_pids[@]}"; do
		kill "$pid" 2>/dev/null
	done
	wait 2>/dev/null
	ip netns del "$SRV" 2>/dev/null
	ip netns del "$CLI" 2>/dev/null
	rm -rf "$PIN" "$TMP"
}

finish() {
	echo "1..$tap_n"
	[ "$tap_fail" -eq 0 ]
	exit $?
}

require_root() {
	if [ "$(id -u)" -ne 0 ]; then
		echo "ok 1 - $TEST_NAME # SKIP needs root"
		echo "1..1"
		exit 0
	fi
}

setup_netns() {
	trap cleanup EXIT
	trap 'exit 130' INT TERM
	ip netns add "$SRV" || return 1
	ip netns add "$CLI" || return 1
	ip link add "$SRV_IF" netns "$SRV" type veth peer name "$CLI_IF" netns "$CLI" || return 1
	in_srv ip link set lo up
	in_cli ip link set lo up
	in_srv ip addr add "$SRV_IP/24" dev "$SRV_IF"
	in_cli ip addr add "$CLI_IP/24" dev "$CLI_IF"
	in_srv ip -6 addr add "$SRV_IP6/64" dev "$SRV_IF" nodad
	in_cli ip -6 addr add "$CLI_IP6/64" dev "$CLI_IF" nodad
	in_srv ip link set "$SRV_IF" up
	in_cli ip link set "$CLI_IF" up
	# Extra client addresses, so tests can play several clients and networks.
	in_cli ip addr add 198.18.0.3/24 dev "$CLI_IF"
	in_cli ip addr add 198.18.0.130/24 dev "$CLI_IF"
	in_cli ip -6 addr add fd00:5::3/64 dev "$CLI_IF" nodad
	in_cli ping -c1 -W2 "$SRV_IP" >/dev/null 2>&1
	return 0
}

# Background process in a namespace, killed at cleanup: bg NS COMMAND...
bg() {
	local ns=$1
	shift
	nsenter --net="/run/netns/$ns" "$@" &
	bg_pids+=($!)
}

# ---- Waiting for a condition under a deadline, never for a fixed time ----

# wait_until SECONDS COMMAND...: runs COMMAND (its output discarded) every 50 ms until it
# succeeds; false if it has not within SECONDS (a whole number).
wait_until() {
	local deadline=$(($(now_ms) + $1 * 1000))
	shift
	until "$@" >/dev/null 2>&1; do
		[ "$(now_ms)" -lt "$deadline" ] || return 1
		sleep 0.05
	done
}

# output_is WANT COMMAND...: COMMAND prints exactly WANT.
output_is() {
	local want=$1
	shift
	[ "$("$@" 2>/dev/null)" = "$want" ]
}

# expect_soon DESCRIPTION WANT COMMAND...: expect_eq on what COMMAND prints, given up to 5 s
# to get there: a veth with XDP counts what it receives in its own NAPI poll, after the
# sender has returned. A value past WANT fails at once after the 5 s, with what was got.
expect_soon() {
	local desc=$1 want=$2
	shift 2
	wait_until 5 output_is "$want" "$@"
	expect_eq "$desc" "$("$@" 2>/dev/null)" "$want"
}

# is_stopped PID: the process is stopped by a signal (state T).
is_stopped() { [ "$(cut -d' ' -f3 /proc/"$1"/stat 2>/dev/null)" = T ]; }

# is_gone PID: no such process (or a zombie, as a background job is until it is waited for).
is_gone() { ! [ -e /proc/"$1" ] || [ "$(cut -d' ' -f3 /proc/"$1"/stat 2>/dev/null)" = Z ]; }

# catches PID SIGNUM...: the process has a handler for each signal (SigCgt in its status);
# a reader that installs its handlers once it is set up is then ready.
catches() {
	local pid=$1 mask sig
	shift
	mask=$(awk '/^SigCgt:/ { print $2 }' /proc/"$pid"/status 2>/dev/null)
	[ -n "$mask" ] || return 1
	for sig in "$@"; do
		(((0x$mask >> (sig - 1)) & 1)) || return 1
	done
}

# json_get JQ_FILTER: reads JSON on stdin.
json_get() { jq -r "$1"; }

# Packets of an interface's counters by verdict: verdict_count IFACE VERDICT
verdict_count() {
	sl -j stats | jq -r --arg i "$1" --arg v "$2" \
		'.interfaces[] | select(.name == $i) | .verdicts[$v].packets'
}

# Drops of a reason: drop_count IFACE REASON
drop_count() {
	sl -j stats | jq -r --arg i "$1" --arg r "$2" \
		'.interfaces[] | select(.name == $i) | .drops[$r].packets'
}

# Packets of a rule by verdict: rule_count IFACE RULE VERDICT
rule_count() {
	sl -j stats | jq -r --arg i "$1" --arg r "$2" --arg v "$3" \
		'.interfaces[] | select(.name == $i) | .rules[] | select(.name == $r) | .verdicts[$v].packets'
}

# Sends COUNT UDP datagrams from SRC to DST:PORT: udp_send SRC DST PORT COUNT
udp_send() {
	in_cli python3 "$(dirname "${BASH_SOURCE[0]}")/udp_send.py" "$@"
}

# ---- kills at random points (test_faults.sh, test_edit_faults.sh) ----

now_ms() { echo $(($(date +%s%N) / 1000000)); }
# A random delay from 0 to MAX ms.
rand_ms() { echo $(((RANDOM << 15 | RANDOM) % ($1 + 1))); }

# killed_after MS ARGS...: sluice ARGS, SIGKILLed after MS ms; true if it was still running.
# nsenter execs sluice, so the pid killed is the controller's own.
killed_after() {
	local ms=$1 pid rc
	shift
	nsenter --net="/run/netns/$SRV" "$SLUICE" --pin-path "$PIN" "$@" >/dev/null 2>&1 &
	pid=$!
	sleep "$((ms / 1000)).$(printf '%03d' $((ms % 1000)))"
	kill -KILL "$pid" 2>/dev/null
	{ wait "$pid"; } 2>/dev/null # without bash's "Killed" line
	rc=$?
	[ "$rc" -eq 137 ]
}

# timed_ms ARGS...: runs sluice ARGS to the end and prints how long it took, in ms.
timed_ms() {
	local t0
	t0=$(now_ms)
	sl "$@" >/dev/null || return 1
	echo $(($(now_ms) - t0))
}
