#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# make demo ends every process it starts: run to the end, and interrupted as Ctrl-C does
# it (SIGINT to its whole process group) while its HTTP server runs. The demo's files
# go under a TMPDIR of this test's own, so its server is found by that path, and only it.
. "$(dirname "$0")/lib.sh"
require_root
trap 'rm -rf "$TMP"' EXIT
DEMO="$(cd "$(dirname "$0")/../.." && pwd)/scripts/demo.sh"
BUILD=$(cd "$(dirname "$SLUICE")/.." && pwd)/$(basename "$(dirname "$SLUICE")")
MARK="$TMP/demo-marker"
mkdir -p "$MARK"

# Processes whose command line names the marker directory: the demo's HTTP server.
survivors() { pgrep -f -- "$MARK" | grep -vx "$$"; }
none_left() { [ -z "$(survivors)" ]; }
server_up() { [ -n "$(survivors)" ]; }

# The demo reads BUILD relative to the tree; give it the one SLUICE is in.
rel_build=$(realpath --relative-to="$(dirname "$DEMO")/.." "$BUILD")

TMPDIR=$MARK BUILD=$rel_build timeout 60 "$DEMO" >"$TMP/run.out" 2>&1
expect_eq "the demo runs to the end" "$?" 0
grep -q "done; cleaning up" "$TMP/run.out" && ok "... and says it is done" ||
	not_ok "... and says it is done: $(tail -n 5 "$TMP/run.out")"
check "no process of the demo is left after it ends" wait_until 5 none_left
expect_eq "its namespaces are gone" "$(ip netns list | grep -c '^sluice-demo-')" 0

# Ctrl-C: SIGINT to the process group the demo leads. Background jobs start with SIGINT
# ignored, which a shell cannot trap, so env restores its default first.
TMPDIR=$MARK BUILD=$rel_build env --default-signal=INT setsid "$DEMO" >"$TMP/int.out" 2>&1 &
demo_pid=$!
check "the interrupted demo's HTTP server starts" wait_until 30 server_up
kill -INT -- -"$demo_pid"
check "the demo exits after Ctrl-C" wait_until 20 sh -c "! kill -0 $demo_pid"
wait "$demo_pid"
expect_eq "... with 130" "$?" 130
check "no process of the demo is left after Ctrl-C" wait_until 5 none_left
survivors | while read -r pid; do
	diag "left: $(tr '\0' ' ' <"/proc/$pid/cmdline")"
	kill "$pid"
done
expect_eq "its namespaces are gone after Ctrl-C" "$(ip netns list | grep -c '^sluice-demo-')" 0
finish
