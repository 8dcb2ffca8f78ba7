#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Runs every test program and script, reads their TAP lines, prints one summary line.
# A program that exits non-zero, or prints no result at all, counts as a failure.
# Without root the BPF and netns tests skip; under CI=true a skip is a failure.
set -u
BUILD=${BUILD:-build}
export BUILD
export SLUICE="$(cd "$(dirname "$0")/.." && pwd)/$BUILD/sluice"
passed=0
failed=0
skipped=0
log_dir="$BUILD/test-logs"
mkdir -p "$log_dir"

run_one() {
	local name=$1
	shift
	local log="$log_dir/$(basename "$name").log"
	local p f s rc
	echo "== $name"
	"$@" >"$log" 2>&1
	rc=$?
	grep -E '^(ok|not ok)( |$)|^#' "$log" | sed 's/^/   /'
	p=$(grep -cE '^ok( |$)' "$log")
	s=$(grep -cE '^ok .*# (SKIP|skip)' "$log")
	f=$(grep -cE '^not ok( |$)' "$log")
	p=$((p - s))
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "   not ok - $name exited with status $rc (log: $log)"
		tail -n 20 "$log" | sed 's/^/   | /'
		f=1
	elif [ "$f" -gt 0 ]; then
		echo "   (log: $log)"
	fi
	if [ $((p + f + s)) -eq 0 ]; then
		echo "   not ok - $name reported no result (log: $log)"
		f=1
	fi
	if [ "${CI:-}" = "true" ] && [ "$s" -gt 0 ]; then
		echo "   not ok - $s skipped under CI=true"
		f=$((f + s))
		s=0
	fi
	passed=$((passed + p))
	failed=$((failed + f))
	skipped=$((skipped + s))
}

export CMOCKA_MESSAGE_OUTPUT=TAP
for t in "$BUILD"/tests/unit/test_*; do
	[ -x "$t" ] && run_one "$t" "$t"
done
for t in "$BUILD"/tests/bpf/test_*; do
	[ -x "$t" ] && run_one "$t" "$t"
done
for t in tests/integration/test_*.sh; do
	[ -x "$t" ] && run_one "$t" "$t"
done

summary="$passed passed, $failed failed"
[ "$skipped" -gt 0 ] && summary="$summary, $skipped skipped"
echo "$summary"
[ "$failed" -eq 0 ]
